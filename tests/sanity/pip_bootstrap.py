"""Stand-in for the get-pip.py that ansible-test downloads to seed its sanity virtualenvs.

Its download host is not reachable from CI here, so `make sanity` puts this file where
ansible-test caches that script. It seeds pip from the interpreter's bundled wheel
(ensurepip), then installs the packages ansible-test asked for from PyPI.
"""

import subprocess
import sys

IGNORED = ('--no-setuptools', '--no-wheel')

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'],
                      stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, '-m', 'pip', 'install']
                      + [arg for arg in sys.argv[1:] if arg not in IGNORED])
