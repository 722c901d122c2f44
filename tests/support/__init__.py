"""Helpers shared by the integration tests, the lab and the benchmarks: real daemons, run
and stopped by pid, and real ansible-playbook runs."""
