# -*- coding: utf-8 -*-
# Copyright: kubeovn.mirror contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON framing python-ovs reads an OVSDB server's messages with: StdlibJsonParser,
given to python-ovs by install() when a connection is opened (ovsdb_remotes.fetch_schema).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

try:
    from ovs import json as ovs_json
except ImportError:  # pragma: no cover - reported by the module opening a connection
    ovs_json = None


_CLOSING = {'{': '}', '[': ']'}


class StdlibJsonParser(object):
    """python-ovs's JSON-RPC reader, with the standard library's C decoder.

    python-ovs reads every message through ``ovs.json.Parser``: a C parser when python-ovs
    was built against libopenvswitch, which Debian does not ship as a library, else one in
    pure Python that handles one character per call. At 5,000 ports the rows read and the
    update the server sends back after the commit took that parser a quarter of the
    module's time. This one has the same interface (``feed`` returns how much of the text
    it used, then ``is_done`` and ``finish``). It finds where the message ends by matching
    brackets outside strings (a regular expression, in C, skips each string whole) and
    decodes the message with ``json``. Text after the message is left to the reader, which
    starts a new parser on it. Only an object or an array ends a message (every JSON-RPC
    message and OVSDB schema is an object); a bare scalar never does.
    """

    # A string (closed, or cut off by the end of the text, maybe after a backslash), or a
    # bracket.
    _TOKENS = re.compile(r'(?P<string>"[^"\\]*(?:\\.[^"\\]*)*)(?P<close>"|\\?\Z)|[][{}]')

    def __init__(self, check_trailer=False):
        # (check_trailer is python-ovs's; a reader's text may go on after the message.)
        self._chunks = []
        self._cut_string = ''
        self._open = []         # the closing brackets expected, innermost last
        self._error = None
        self._done = False
        self._result = None

    def feed(self, text):
        if self._done:
            return 0
        # A string cut off at the end of the last text is scanned again with this one.
        scan = self._cut_string + text
        offset = len(self._cut_string)
        self._cut_string = ''
        for token in self._TOKENS.finditer(scan):
            if token.group('string') is not None:
                if token.group('close') != '"':
                    self._cut_string = token.group()
                continue
            bracket = token.group()
            if bracket in '{[':
                self._open.append(_CLOSING[bracket])
                continue
            if not self._open or self._open.pop() != bracket:
                self._error = 'unbalanced %s' % bracket
            if self._error or not self._open:
                used = token.end() - offset
                self._chunks.append(text[:used])
                self._finish_message()
                return used
        self._chunks.append(text)
        return len(text)

    def _finish_message(self):
        message = ''.join(self._chunks)
        self._chunks = []
        self._done = True
        if self._error:
            self._result = 'invalid JSON: %s in %.80r' % (self._error, message)
            return
        try:
            self._result = json.loads(message)
        except ValueError as exc:
            self._result = 'invalid JSON: %s' % exc

    def is_done(self):
        return self._done

    def finish(self):
        """The message decoded, or (as python-ovs's parser does) a string saying why not."""
        if not self._done:
            return 'unexpected end of input'
        return self._result


def install():
    """Make python-ovs read messages with StdlibJsonParser, unless it has its C parser
    (python-ovs built against libopenvswitch, which Debian does not ship as a library)."""
    if ovs_json is not None and ovs_json.PARSER != ovs_json.PARSER_C:
        ovs_json.Parser = StdlibJsonParser
