# kubeovn.mirror: every target installs what it needs first (Debian bookworm, as root or
# with sudo). See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := build/.stamps
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := ovn-central ovn-host ovn-common openvswitch-switch openvswitch-common \
	iproute2 iputils-ping tcpdump openssl rsync shellcheck git etcd-server python3-openvswitch \
	debootstrap containerd runc containernetworking-plugins ethtool openjdk-17-jre-headless
# ansible-test seeds its sanity virtualenvs with a get-pip script it downloads from a host
# CI cannot reach; we hand it our own bootstrap (tests/sanity/pip_bootstrap.py).
ANSIBLE_TEST_PIP := $(HOME)/.ansible/test/cache/get_pip_24_2.py
SANITY_ROOT := build/sanity/ansible_collections/kubeovn/mirror
PYTEST_ARGS ?=
# OVN of `make lab-up` and `make demo`: 25.03 (trixie's, what Kube-OVN 1.15+ runs), 23.03
# (bookworm's, like Kube-OVN 1.12) or 26.03 (sid's: the demo adds an lport mirror with rules).
OVN ?= 25.03

.PHONY: help deps kube-apiserver ovn-root node-images test sanity lint galaxy-import unit integration bench demo soak docs lab-up lab-down clean

help:
	@echo "make test   - install everything, then sanity, lint, galaxy-importer, unit and integration tests"
	@echo "make bench  - benchmarks (bench/README.md)"
	@echo "make lab-up / lab-down - the one-machine OVN lab (pods are network namespaces); OVN=25.03|23.03|26.03"
	@echo "make demo   - install everything, run the playbooks against the embedded lab, show mirrored packets"
	@echo "make soak   - faults in bursts on the two-node cluster, invariants after each (docs/soak.md); SOAK_MINUTES=60 SOAK_SEED=n"

deps: $(STAMPS)/apt $(STAMPS)/venv

# The test cluster's kube-apiserver, kube-scheduler, kubelet and kubectl: built once from
# Debian's kubernetes source (~5 min) and cached under ~/.cache/kubeovn-mirror/bin; later runs
# only find them.
kube-apiserver: $(STAMPS)/apt
	@bash lab/kube/build-kube.sh

# The test node's images (no registry is reachable): the pause program of the kubernetes
# source, and a Debian root with iproute2, tcpdump and python3 (~2 min once, ~50 MB cached).
node-images: deps kube-apiserver
	@$(PY) -m lab.images

# The newer OVN lines next to bookworm's 23.03, each a Debian root built once with debootstrap
# (~1 min, ~360-390 MB) and cached under ~/.cache/kubeovn-mirror: 25.03 / OVS 3.5 (trixie,
# what Kube-OVN 1.15+ runs) and 26.03 / OVS 3.7 (sid: lport mirrors and mirror rules).
ovn-root: $(STAMPS)/apt
	@bash lab/ovn-root/build-ovn-root.sh 25.03
	@bash lab/ovn-root/build-ovn-root.sh 26.03

$(STAMPS)/apt:
	@mkdir -p $(STAMPS)
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		echo ">> installing Debian packages: $(APT_PACKAGES)"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q -t bookworm \
			--no-install-recommends $(APT_PACKAGES); \
	fi
	@touch $@

# A checkout without .venv links it to a virtualenv cached under ~/.cache, one per content of
# requirements-test.txt, so that a clean clone does not install the tool chain again.
VENV_CACHE := $(HOME)/.cache/kubeovn-mirror/venv-$(shell sha256sum requirements-test.txt | cut -c1-12)
$(STAMPS)/venv: requirements-test.txt
	@mkdir -p $(STAMPS)
	@echo ">> Python virtualenv $(VENV) with requirements-test.txt"
	@if [ ! -e $(VENV) ]; then \
		[ -x $(VENV_CACHE)/bin/python ] || $(PYTHON) -m venv $(VENV_CACHE); \
		ln -s $(VENV_CACHE) $(VENV); \
	fi
	@# pip through the real path: the scripts it writes name their interpreter by it
	@$$(readlink -f $(VENV))/bin/python -m pip install -q --disable-pip-version-check \
		-r requirements-test.txt
	@touch $@

sanity: deps
	@echo ">> ansible-test sanity (on a copy at $(SANITY_ROOT))"
	@mkdir -p $(SANITY_ROOT) $(dir $(ANSIBLE_TEST_PIP))
	@cp tests/sanity/pip_bootstrap.py $(ANSIBLE_TEST_PIP)
	@rsync -a --delete --exclude .venv --exclude build --exclude .git --exclude tests/output \
		--exclude __pycache__ --exclude .pytest_cache ./ $(SANITY_ROOT)/
	@cd $(SANITY_ROOT) && { [ -d .git ] || git init -q .; } && git add -A && \
		PATH=$(CURDIR)/$(VENV)/bin:$$PATH ansible-test sanity --python 3.11 --local \
			--skip-test pslint 2>&1 | grep -v 'Using locale'; exit $${PIPESTATUS[0]}

# Galaxy's importer on the built artifact, offline, in its own virtualenv
# (requirements-importer.txt), made once per requirements file and cached under ~/.cache;
# tools/galaxy_import.py accepts only a clean pass.
IMPORTER_VENV := $(HOME)/.cache/kubeovn-mirror/importer-venv-$(shell sha256sum requirements-importer.txt | cut -c1-12)
$(IMPORTER_VENV)/.complete:   # the path names the requirements: no timestamp to compare
	@echo ">> galaxy-importer virtualenv $(IMPORTER_VENV) with requirements-importer.txt"
	@rm -rf $(IMPORTER_VENV) && $(PYTHON) -m venv $(IMPORTER_VENV)
	@$(IMPORTER_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-importer.txt
	@touch $@

galaxy-import: deps $(IMPORTER_VENV)/.complete
	@echo ">> galaxy-importer on the artifact of ansible-galaxy collection build"
	@$(PY) tools/galaxy_import.py $(IMPORTER_VENV)

# ansible-lint (production profile, .ansible-lint) on roles, playbooks and examples, and the
# changelog fragments.
lint: deps
	@echo ">> ansible-lint (production profile) and antsibull-changelog lint"
	@$(PY) -c "from tools.collection import ensure_collection_link; ensure_collection_link()"
	@PATH=$(CURDIR)/$(VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build ansible-lint -q
	@$(VENV)/bin/antsibull-changelog lint

unit: deps
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

integration: deps kube-apiserver ovn-root node-images
	$(PY) -m pytest -q tests/integration $(PYTEST_ARGS)

# Two pytest sessions over unit + integration: first the tests that start only their own
# daemons (ovsdb-servers, a control plane) on both cores, an idle worker taking tests from the
# other (worksteal); then those marked serial (the lab, the real node, namespaces: tests/conftest.py) one at a time.
# (Exit status 5 is pytest's "no test selected": a PYTEST_ARGS -k may leave one session empty.)
test: sanity lint galaxy-import kube-apiserver ovn-root node-images
	$(PY) -m pytest -q -p no:cacheprovider -m 'not serial' -n 2 --dist worksteal --durations=15 \
		tests/unit tests/integration $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -q -p no:cacheprovider -m serial --durations=20 \
		tests/unit tests/integration $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The one-machine lab (real OVS userspace datapath + OVN); see lab/ovn.py.
lab-up: deps ovn-root
	$(PY) -m lab.ovn up build/lab --ovn $(OVN)

lab-down: deps
	$(PY) -m lab.ovn down build/lab

# Every benchmark in one run; prints the table and rewrites bench/README.md's results.
bench: deps kube-apiserver
	$(SUDO) $(PY) bench/run.py

# The main job end to end on this machine: control plane + OVN lab + playbooks + packets.
demo: deps kube-apiserver ovn-root node-images
	@$(SUDO) $(PY) -m lab.demo build/demo --ovn $(OVN)

# An hour (SOAK_MINUTES) of faults in bursts on the two-node cluster while the rulebook follows
# the declared mirrors; the invariants after each burst (docs/soak.md). A run prints its seed:
# SOAK_SEED replays it. The report: build/soak/soak-report.json.
SOAK_MINUTES ?= 60
SOAK_SEED ?=
soak: deps kube-apiserver ovn-root node-images
	@$(SUDO) $(PY) -m lab.soak build/soak --minutes $(SOAK_MINUTES) $(if $(SOAK_SEED),--seed $(SOAK_SEED))

# docs/reference/*.md from the modules' and roles' own documentation (ansible-doc), and the
# layout of every file in docs/development.md from the files' own first lines.
docs: deps
	$(PY) tools/docs_reference.py
	$(PY) tools/docs_layout.py

clean:
	rm -rf build tests/output .pytest_cache
