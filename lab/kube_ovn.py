"""What Kube-OVN itself does to a node's OVS, for tests that play its part, and readers of
the lab's mirroring (independent of the collection's code)."""

from lab.daemons import wait_until
from lab.ovn import PODS

WEB0_IP, WEB1_IP = PODS['web-0'][2], PODS['web-1'][2]

# pkg/daemon/ovs.go configureEmptyMirror, as kube-ovn-cni runs it at every start (InitMirror,
# pkg/daemon/init.go), verbatim.
INIT_MIRROR = ('--may-exist add-port br-int mirror0 -- set interface mirror0 type=internal -- '
               'clear bridge br-int mirrors -- --id=@m get port mirror0 -- --id=@mirror create '
               'mirror name=m0 output_port=@m -- add bridge br-int mirrors @mirror').split()


def undo_kube_ovn_cni(lab, nb_mirror=None):
    """Remove what kube-ovn-cni added (m0, mirror0), touching no other mirror: clearing the
    bridge's mirrors would orphan ovn-controller's ports again. With `nb_mirror`, first delete
    that NB mirror and wait until ovn-controller has removed its OVS port."""
    if nb_mirror:
        lab.nbctl('mirror-del', nb_mirror)
        try:
            wait_until(lambda: 'ovn-' + nb_mirror not in lab.vsctl('list-ports',
                                                                   'br-int').split(),
                       15, 'ovn-controller removing ovn-' + nb_mirror, interval=0.2)
        except TimeoutError:    # a test failed while ovn-controller was stuck: clean up
            lab.vsctl('--if-exists', 'del-port', 'br-int', 'ovn-' + nb_mirror)
    for uuid in lab.vsctl('--bare', '--columns=_uuid', 'find', 'Mirror', 'name=m0').split():
        lab.vsctl('remove', 'Bridge', 'br-int', 'mirrors', uuid)
    lab.vsctl('--if-exists', 'del-port', 'br-int', 'mirror0')


def copies(lab, count=3, key='0x63'):
    """GRE copies (key 99 by default) of web-0's echo requests to web-1 at the receiver."""
    lines, dummy = lab.capture('rx', lambda: lab.ping('web-0', WEB1_IP, count=count),
                               seconds=count + 2)
    return [line for line in lines if 'key=%s' % key in line and
            '%s > %s: ICMP echo request' % (WEB0_IP, WEB1_IP) in line]


def bridge_state(lab):
    """Ports and mirror names of br-int, as ovs-vsctl reads them."""
    return (sorted(lab.vsctl('list-ports', 'br-int').split()),
            sorted(lab.vsctl('--bare', '--columns=name', 'list', 'Mirror').split()))
