"""The OVN versions the tests and the lab run, each with its own tools and schemas.

- 23.03 (OVS 3.1): Debian bookworm's packages on this machine, like Kube-OVN 1.12's 22.12.
- 25.03 (OVS 3.5): Debian trixie's, what Kube-OVN 1.15+ ships.
- 26.03 (OVS 3.7): Debian sid's, with `lport` mirrors and mirror rules (OVN >= 25.09), which
  no Kube-OVN release has yet.
The newer lines live in a Debian root built once with debootstrap and cached
(lab/ovn-root/build-ovn-root.sh VERSION). Their binaries run through the root's own dynamic
loader and libraries, so they see the host's file system: no chroot, no mount, and every
path (run directories, sockets, pidfiles) is the same for them and for the tests.
"""

import functools
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_SCRIPT = os.path.join(HERE, 'ovn-root', 'build-ovn-root.sh')
HOST_VERSION = '23.03'
CURRENT_VERSION = '25.03'
NEXT_VERSION = '26.03'
VERSIONS = (HOST_VERSION, CURRENT_VERSION, NEXT_VERSION)
# Which lines the NB module tests marked both_ovn run on (tests/integration/conftest.py), to
# keep `make test` within its time: the oldest and the newest NB schema (what 25.03 accepts is a
# subset of 26.03's; the tests of what each line lacks name every line). The data path: the
# lab on 23.03 by default, test_lab_current_ovn.py on 25.03, test_lab_lport_mirror.py on
# 26.03, the two-node cluster and the demo on 25.03.
NB_VERSIONS = (HOST_VERSION, NEXT_VERSION)


class Ovn:
    """Commands and schema paths of one OVN version."""

    def __init__(self, version, root=None):
        if version not in VERSIONS:
            raise ValueError('OVN %r is not one of %s' % (version, ', '.join(VERSIONS)))
        self.version = version
        self.root = root or ''

    def path(self, *parts):
        return os.path.join(self.root or '/', *parts)

    def cmd(self, tool):
        """The argv prefix that runs `tool` (ovsdb-server, ovn-nbctl, ...) of this version."""
        if not self.root:
            return [tool]
        for directory in ('usr/sbin', 'usr/bin'):
            binary = self.path(directory, tool)
            if os.path.exists(binary):
                return [self.path('usr/lib64/ld-linux-x86-64.so.2'), '--library-path',
                        self.path('usr/lib/x86_64-linux-gnu'), binary]
        raise FileNotFoundError('%s is not in the OVN %s root %s'
                                % (tool, self.version, self.root))

    @property
    def nb_schema(self):
        return self.path('usr/share/ovn/ovn-nb.ovsschema')

    @property
    def sb_schema(self):
        return self.path('usr/share/ovn/ovn-sb.ovsschema')

    @property
    def vswitch_schema(self):
        return self.path('usr/share/openvswitch/vswitch.ovsschema')

    def __repr__(self):
        return 'Ovn(%s)' % self.version


@functools.lru_cache(maxsize=None)
def ovn(version=HOST_VERSION):
    """The Ovn of `version`; builds (once, cached) the Debian root of a newer line."""
    if version == HOST_VERSION:
        return Ovn(version)
    if version not in VERSIONS:
        raise ValueError('OVN %r is not one of %s' % (version, ', '.join(VERSIONS)))
    root = subprocess.run(['bash', BUILD_SCRIPT, version], check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip().splitlines()[-1]
    return Ovn(version, root)
