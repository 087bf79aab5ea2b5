#!/usr/bin/python3
# Writes the configuration the role rendered for many agents of this machine in one module run: the
# netns lab's hosts all live on the controller, and one run for all of them replaces the seven module
# runs (each a new Python process) that the per-host tasks cost every host.

DOCUMENTATION = r"""
module: nomad_config_files
short_description: Write rendered Nomad configuration files of many agents on this machine
description:
  - For each agent, creates its directories (mode 0700), writes its files (mode 0600, atomically) when their content or mode
    differ, and removes the files it must no longer have.
options:
  agents:
    description: One entry per agent, with C(dirs) (created), C(config_dir), C(files) (name to content) and C(absent) (names).
    type: list
    elements: dict
    required: true
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule


def ensure_dir(path, check_mode):
    if os.path.isdir(path):
        if os.stat(path).st_mode & 0o7777 == 0o700:
            return False
        if not check_mode:
            os.chmod(path, 0o700)
        return True
    if not check_mode:
        # Every directory made on the way gets 0700, as the file module's state=directory does with mode 0700.
        parent = os.path.dirname(path)
        if parent and not os.path.isdir(parent):
            ensure_dir(parent, check_mode)
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)
    return True


def write_file(path, content, check_mode):
    data = content.encode("utf-8")
    try:
        with open(path, "rb") as f:
            same = f.read() == data
        if same and os.stat(path).st_mode & 0o7777 == 0o600:
            return False
    except FileNotFoundError:
        pass
    if check_mode:
        return True
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".nomad-lab-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def main():
    module = AnsibleModule(argument_spec={"agents": {"type": "list", "elements": "dict", "required": True}}, supports_check_mode=True)
    changed = []
    for agent in module.params["agents"]:
        config_dir = agent["config_dir"]
        try:
            for d in agent.get("dirs", []):
                if ensure_dir(d, module.check_mode):
                    changed.append(d)
            for name, content in sorted(agent.get("files", {}).items()):
                path = os.path.join(config_dir, name)
                if write_file(path, content, module.check_mode):
                    changed.append(path)
            for name in agent.get("absent", []):
                path = os.path.join(config_dir, name)
                if os.path.lexists(path):
                    if not module.check_mode:
                        os.unlink(path)
                    changed.append(path)
        except OSError as error:
            module.fail_json(msg="%s: %s" % (config_dir, error), changed=len(changed) > 0, changed_paths=changed)
    module.exit_json(changed=len(changed) > 0, changed_paths=changed)


if __name__ == "__main__":
    main()
