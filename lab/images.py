"""Container images for the test node, built here because no image registry is reachable.

- `lab.local/pause:3.2`: the pause program of the Kubernetes source the binaries are built
  from (build/pause/linux/pause.c, kept by lab/kube/build-kube.sh), linked statically.
- `lab.local/tools:4`: a Debian bookworm minbase root with iproute2, tcpdump, ping, iperf3,
  qperf, python3, python3-openvswitch, python3-kubernetes and Open vSwitch's tools: the receiver pod
  and the lab's pods, the stand-ins for Kube-OVN's `ovs-ovn` pod (Ansible's modules run inside
  them through kubectl exec) and its `kube-ovn-cni` pod (lab/kube_ovn_cni.py, which runs
  ovs-vsctl and reads pods from the API).

Each is written once as an OCI image archive under ~/.cache/kubeovn-mirror/images and imported
into the node's containerd at every start (`ctr images import`); pods use them with
`imagePullPolicy: Never`. `python -m lab.images` builds what is missing and prints the paths.
"""

import datetime
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

CACHE = os.environ.get('KUBEOVN_MIRROR_CACHE', os.path.expanduser('~/.cache/kubeovn-mirror'))
IMAGES = os.path.join(CACHE, 'images')
KUBE_BUILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kube', 'build-kube.sh')
PAUSE_IMAGE = 'lab.local/pause:3.2'
TOOLS_IMAGE = 'lab.local/tools:4'
TOOLS_PACKAGES = ('iproute2', 'tcpdump', 'iputils-ping', 'python3', 'procps',
                  'python3-openvswitch')
# Installed with apt inside the root once debootstrap is done: debootstrap's own ordering
# fails to configure python3-kubernetes' dependencies (python3-cryptography).
TOOLS_APT_PACKAGES = ('openvswitch-switch', 'python3-kubernetes', 'iperf3', 'qperf')
# Left out of the tools layer: package caches and documentation nobody in a pod reads.
TOOLS_EXCLUDES = ('./var/cache/apt/archives', './var/lib/apt/lists', './usr/share/doc',
                  './usr/share/man', './usr/share/locale', './usr/share/info', './dev')


def archive_path(image):
    return os.path.join(IMAGES, image.split('/')[-1].replace(':', '-') + '.oci.tar')


def _blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, 'blobs', 'sha256', digest), 'wb') as handle:
        handle.write(data)
    return 'sha256:' + digest, len(data)


def write_oci_archive(path, image, layer_tar, entrypoint):
    """An OCI image layout with one gzip layer made from the tar at `layer_tar`, packed into
    the tar archive `ctr images import` reads; named `image` by containerd's annotation."""
    with tempfile.TemporaryDirectory(dir=IMAGES) as layout:
        os.makedirs(os.path.join(layout, 'blobs', 'sha256'))
        with open(layer_tar, 'rb') as handle:
            raw = handle.read()
        diff_id = 'sha256:' + hashlib.sha256(raw).hexdigest()
        layer_digest, layer_size = _blob(layout, gzip.compress(raw, compresslevel=1, mtime=0))
        created = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).isoformat()
        config = {'architecture': 'amd64', 'os': 'linux', 'created': created,
                  'config': {'Entrypoint': entrypoint,
                             'Env': ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:'
                                     '/sbin:/bin']},
                  'rootfs': {'type': 'layers', 'diff_ids': [diff_id]}}
        config_digest, config_size = _blob(layout, json.dumps(config).encode())
        manifest = {'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                    'config': {'mediaType': 'application/vnd.oci.image.config.v1+json',
                               'digest': config_digest, 'size': config_size},
                    'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar+gzip',
                                'digest': layer_digest, 'size': layer_size}]}
        manifest_digest, manifest_size = _blob(layout, json.dumps(manifest).encode())
        index = {'schemaVersion': 2, 'manifests': [{
            'mediaType': 'application/vnd.oci.image.manifest.v1+json',
            'digest': manifest_digest, 'size': manifest_size,
            'platform': {'architecture': 'amd64', 'os': 'linux'},
            'annotations': {'io.containerd.image.name': image,
                            'org.opencontainers.image.ref.name': image.split(':')[-1]}}]}
        with open(os.path.join(layout, 'index.json'), 'w') as handle:
            json.dump(index, handle)
        with open(os.path.join(layout, 'oci-layout'), 'w') as handle:
            json.dump({'imageLayoutVersion': '1.0.0'}, handle)
        subprocess.run(['tar', '-C', layout, '-cf', path + '.tmp', 'oci-layout', 'index.json',
                        'blobs'], check=True)
    os.replace(path + '.tmp', path)
    return path


def build_pause():
    path = archive_path(PAUSE_IMAGE)
    if os.path.exists(path):
        return path
    bindir = subprocess.run(['bash', KUBE_BUILD], check=True, stdout=subprocess.PIPE,
                            text=True, timeout=3600).stdout.strip().splitlines()[-1]
    source = os.path.join(bindir, 'pause-v1.20.2.c')
    with tempfile.TemporaryDirectory(dir=IMAGES) as work:
        os.makedirs(os.path.join(work, 'root'))
        subprocess.run(['gcc', '-Os', '-static', '-DVERSION=v1.20.2-lab', '-o',
                        os.path.join(work, 'root', 'pause'), source], check=True)
        subprocess.run(['tar', '-C', os.path.join(work, 'root'), '--owner=0', '--group=0',
                        '-cf', os.path.join(work, 'layer.tar'), '.'], check=True)
        return write_oci_archive(path, PAUSE_IMAGE, os.path.join(work, 'layer.tar'),
                                 ['/pause'])


def build_tools():
    path = archive_path(TOOLS_IMAGE)
    if os.path.exists(path):
        return path
    with tempfile.TemporaryDirectory(dir=IMAGES) as work:
        root = os.path.join(work, 'root')
        print('>> debootstrap bookworm minbase with %s for %s'
              % (', '.join(TOOLS_PACKAGES), TOOLS_IMAGE), file=sys.stderr)
        # no mirror named here: debootstrap uses its own default
        proc = subprocess.run(['debootstrap', '--variant=minbase', '--include=' + ','.join(
            TOOLS_PACKAGES), 'bookworm', root],
            capture_output=True, text=True, timeout=1800, check=False)
        if proc.returncode != 0:
            raise RuntimeError('debootstrap failed (status %d):\n%s' % (
                proc.returncode, '\n'.join((proc.stdout + proc.stderr).splitlines()[-20:])))
        _apt_install(root, TOOLS_APT_PACKAGES)
        excludes = ['--exclude=' + pattern + '/*' for pattern in TOOLS_EXCLUDES]
        subprocess.run(['tar', '-C', root, '--numeric-owner'] + excludes +
                       ['-cf', os.path.join(work, 'layer.tar'), '.'], check=True)
        return write_oci_archive(path, TOOLS_IMAGE, os.path.join(work, 'layer.tar'),
                                 ['/bin/sh'])


def _apt_install(root, packages):
    """`apt-get install` in the root (chroot, /proc mounted for the packages' scripts, no
    service started: policy-rc.d says no), then apt's caches cleaned."""
    policy = os.path.join(root, 'usr', 'sbin', 'policy-rc.d')
    with open(policy, 'w') as handle:
        handle.write('#!/bin/sh\nexit 101\n')
    os.chmod(policy, 0o755)
    subprocess.run(['mount', '-t', 'proc', 'proc', os.path.join(root, 'proc')], check=True)
    try:
        proc = subprocess.run(
            ['chroot', root, 'apt-get', 'install', '-y', '-q', '--no-install-recommends'] +
            list(packages), capture_output=True, text=True, timeout=1800, check=False,
            env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
    finally:
        subprocess.run(['umount', os.path.join(root, 'proc')], check=False)
        os.remove(policy)
    if proc.returncode != 0:
        raise RuntimeError('apt-get install %s in the tools root failed (status %d):\n%s' % (
            ' '.join(packages), proc.returncode,
            '\n'.join((proc.stdout + proc.stderr).splitlines()[-20:])))
    subprocess.run(['chroot', root, 'apt-get', 'clean'], check=True, capture_output=True)


def build_all():
    """Both images' archives, built when missing: {image: path}."""
    os.makedirs(IMAGES, exist_ok=True)
    if shutil.which('debootstrap') is None:
        raise RuntimeError('debootstrap is not installed: run `make deps` (see README)')
    return {PAUSE_IMAGE: build_pause(), TOOLS_IMAGE: build_tools()}


if __name__ == '__main__':
    for name, archive in build_all().items():
        print('%s %s' % (name, archive))
