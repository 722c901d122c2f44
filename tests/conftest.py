import os
import sys

# Make `lab` (the harness) and `tools` importable however pytest is started.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Fixtures that use what one machine has once: the OVN lab's datapath and bridges, the real
# node (kubelet, containerd), network namespaces and kernel links. A test using one is marked
# `serial`; `make test` runs those one at a time, after the rest ran on both cores.
MACHINE_WIDE_FIXTURES = frozenset(['lab', 'real', 'lab_pods', 'netns', 'kernel_gretap', 'cluster'])


def pytest_collection_modifyitems(config, items):
    import pytest
    for item in items:
        if MACHINE_WIDE_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.serial)
