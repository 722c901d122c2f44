"""The development harness (not part of the collection's plugins): real daemons started and
stopped by pid (OVSDB servers, the one-machine OVN lab, etcd + kube-apiserver), a stand-in
for the kubelet and Kube-OVN, real ansible-playbook runs, and `make demo`. Used by tests/,
bench/, tools/ and the Makefile; it imports nothing from tests/."""
