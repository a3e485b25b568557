"""A stand-in for the helm CLI, run as a script by the Helm tests.

It keeps releases in a JSON state file (path in $STANDIN_HELM_STATE), appends
every call to the log named in that file, and answers like helm does: JSON on
stdout, "Error: ..." on stderr with exit status 1. The state's "upgrade" entry
tunes `helm upgrade`: sleep (seconds), until_file (run until this file exists),
fail (stderr text), spawn_child (start a grandchild process), ignore_term
(ignore SIGTERM); its "uninstall" entry can set sleep too.
"""

import json
import os
import signal
import subprocess
import sys
import time

STATE_PATH = os.environ["STANDIN_HELM_STATE"]


def load():
    with open(STATE_PATH) as f:
        return json.load(f)


def save(state):
    with open(STATE_PATH, "w") as f:
        json.dump(state, f)


def log(state, **entry):
    with open(state["log"], "a") as f:
        f.write(json.dumps(entry) + "\n")


def fail(message):
    print(f"Error: {message}", file=sys.stderr)
    sys.exit(1)


def option(args, name):
    return args[args.index(name) + 1] if name in args else None


def main():
    state = load()
    args = sys.argv[1:]
    global_flags = {}
    while args and args[0] in ("--kubeconfig", "--kube-context"):
        global_flags[args[0]] = args[1]
        args = args[2:]
    command, releases = args[0], state.setdefault("releases", {})
    entry = {"command": command, "args": args, "global": global_flags}

    if command == "status":
        log(state, **entry)
        release = releases.get(args[1]) or fail("release: not found")
        print(
            json.dumps(
                {
                    "name": args[1],
                    "namespace": option(args, "--namespace"),
                    "version": len(release["history"]),
                    "info": {"status": release["status"]},
                }
            )
        )
    elif command == "history":
        log(state, **entry)
        release = releases.get(args[1]) or fail("release: not found")
        print(json.dumps(release["history"]))
    elif command == "list":
        log(state, **entry)
        print(
            json.dumps(
                [
                    {
                        "name": name,
                        "namespace": r.get("namespace", "default"),
                        "status": r["status"],
                        "revision": str(len(r["history"])),
                        "chart": "tiny-0.1.0",
                    }
                    for name, r in releases.items()
                ]
            )
        )
    elif command == "uninstall":
        log(state, **entry)
        time.sleep(state.get("uninstall", {}).get("sleep", 0))
        if args[1] not in releases:
            fail(f"uninstall: Release not loaded: {args[1]}: release: not found")
        del releases[args[1]]
        save(state)
        print(f'release "{args[1]}" uninstalled')
    elif command == "rollback":
        log(state, **entry)
        release = releases.get(args[1]) or fail("release: not found")
        release["history"].append({"revision": len(release["history"]) + 1, "status": "deployed"})
        release["status"] = "deployed"
        save(state)
        print("Rollback was a success! Happy Helming!")
    elif command == "upgrade":
        behaviour = state.get("upgrade", {})
        # The platform's own values file is always the last --values.
        values_path = [args[i + 1] for i, a in enumerate(args) if a == "--values"][-1]
        entry["values_files"] = [args[i + 1] for i, a in enumerate(args) if a == "--values"][:-1]
        entry["values"] = open(values_path).read()
        entry["values_mode"] = oct(os.stat(values_path).st_mode & 0o777)
        entry["values_path"] = values_path
        if behaviour.get("ignore_term"):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:

            def terminated(signum, frame):
                log(state, command="terminated")
                sys.exit(143)

            signal.signal(signal.SIGTERM, terminated)
        if behaviour.get("spawn_child"):
            entry["child_pid"] = subprocess.Popen(["sleep", "60"]).pid
        entry["pid"] = os.getpid()
        log(state, **entry)
        time.sleep(behaviour.get("sleep", 0))
        while behaviour.get("until_file") and not os.path.exists(behaviour["until_file"]):
            time.sleep(0.02)
        if behaviour.get("fail"):
            fail(behaviour["fail"])
        name, namespace = args[1], option(args, "--namespace")
        release = releases.setdefault(name, {"status": "deployed", "history": [], "namespace": namespace})
        for revision in release["history"]:
            if revision["status"] == "deployed":
                revision["status"] = "superseded"
        release["history"].append({"revision": len(release["history"]) + 1, "status": "deployed"})
        release["status"] = "deployed"
        save(state)
        print(
            json.dumps(
                {
                    "name": name,
                    "namespace": namespace,
                    "version": len(release["history"]),
                    "info": {
                        "status": "deployed",
                        "description": "Install complete",
                        "notes": "admin password: hunter2",
                    },
                    "chart": {"metadata": {"name": "tiny", "version": "0.1.0"}, "templates": []},
                    "config": json.loads(entry["values"]),
                    "manifest": "kind: Secret\ndata:\n  password: aHVudGVyMg==\n",
                }
            )
        )
    else:
        fail(f"unknown command {command}")


main()
