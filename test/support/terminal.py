"""Runs a command in a pseudo-terminal and answers it as a user would type.

Usage: terminal.py STEPS_JSON COMMAND... ; STEPS_JSON is a list of {"expect": regex,
"send": text} or {"expect": regex, "signal": "INT"}. Prints JSON: {"code": exit status, "output": everything the terminal
showed, "missed": the regex that never appeared, or null}.
"""
import json
import os
import pty
import re
import select
import signal
import sys
import time

KEY = re.compile(r"\x1b\[[0-9;]*[A-Za-z~]|.", re.S)
steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])

output = b""
missed = None


def read_for(seconds):
    global output
    end = time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            output += chunk
    return True


pos = 0
for step in steps:
    seen = pos
    deadline = time.time() + 20
    pattern = re.compile(step["expect"].encode())
    while not pattern.search(output, seen) and time.time() < deadline:
        if not read_for(0.05):
            break
    match = pattern.search(output, seen)
    if not match:
        missed = step["expect"]
        break
    pos = match.end()
    if "signal" in step:
        os.kill(pid, getattr(signal, "SIG" + step["signal"]))
        continue
    # prompts redraws after each key; a short pause lets it take them one at a time.
    # An escape sequence (an arrow key) goes in one write: sent byte by byte, a
    # loaded machine can let readline's escape timeout fire between ESC and "[",
    # and prompts reads a lone ESC as "cancel".
    for key in KEY.findall(step["send"]):
        os.write(fd, key.encode())
        read_for(0.05)

while read_for(0.2):
    pass
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"code": code, "output": output.decode(errors="replace"), "missed": missed}))
