"""Edges of workspace.py that `make mutate` found untested (docs/mutation.md): a fractional count in the
environment, what is not a run or not a workspace during eviction, and the usage figure in personal mode."""

from __future__ import annotations

import pytest
from test_workspace import Clock, put

from charlstm.serve import workspace as ws_mod
from charlstm.serve.settings import ServerSettings, settings_from
from charlstm.serve.workspace import Workspaces


def test_a_count_setting_refuses_a_fraction_and_a_size_setting_takes_one():
    with pytest.raises(ValueError, match="CHARLSTM_MAX_QUEUE"):
        settings_from({"CHARLSTM_MAX_QUEUE": "2.5"})  # trainings waiting are counted, not measured
    assert settings_from({"CHARLSTM_MAX_QUEUE": "3"}).max_queue == 3
    assert settings_from({"CHARLSTM_WORKSPACE_MB": "2.5"}).workspace_mb == 2.5


def test_eviction_takes_runs_only_and_leaves_stray_files_and_folders_being_removed_alone(tmp_path, trained_run):
    clock = Clock()
    size = ws_mod.size_of(trained_run.path)
    # three runs' worth in all (two runs, one half removed); the quota holds two and a half
    spaces = Workspaces(tmp_path, ServerSettings(workspace_mb=2.5 * size / 1e6, store_mb=1000), clock=clock)
    store = spaces.store(spaces.new_token())
    old, new = (put(store, trained_run, key=f"{i:016x}") for i in (1, 2))
    ws_mod.touch(old, clock, force=True)
    clock.t += 60
    ws_mod.touch(new, clock, force=True)
    (store.runs / "notes.txt").write_text("a stray file among the runs")
    half_run = put(store, trained_run, key=".del-0000000000000009-half")  # a run half way through its removal
    # a workspace half way through its removal (workspace._remove renames it to a dot-folder first)
    half_space = RunStoreLike(spaces.root / ".del-gone")
    half_space_run = put(half_space, trained_run, key="000000000000000a")
    ws_mod.touch(half_space_run, clock, force=True)
    clock.t += 2 * 3600  # every run is old enough to go
    ws_mod.touch(half_run, clock, force=True)  # its removal is under way now: younger than RECENT_S, not a leftover
    evicted = spaces.enforce()
    assert evicted == [old]  # the least recently used run, until the workspace is within its quota
    assert new.is_dir() and (store.runs / "notes.txt").is_file() and half_run.is_dir()
    assert half_space_run.is_dir()  # not a workspace: its runs are not evicted by the quota


def test_the_usage_figure_in_personal_mode_is_the_shared_homes(tmp_path, trained_run):
    clock = Clock()
    size = ws_mod.size_of(trained_run.path)
    spaces = Workspaces(tmp_path, ServerSettings(mode="personal", workspace_mb=1000), clock=clock)
    run = put(spaces.shared, trained_run)
    ws_mod.touch(run, clock, force=True)
    clock.t += 2 * 3600
    token = spaces.new_token()  # a link's token means nothing in personal mode: one person, one home
    used, quota, victim = spaces.usage(token)
    assert used >= size and quota == int(1000 * 1e6) and victim == run
    assert spaces.usage(None) == (used, quota, victim)


class RunStoreLike:
    """The `ready()`/`runs` that put() needs, for a folder that is not a workspace."""

    def __init__(self, root):
        self.root, self.runs = root, root / "runs"

    def ready(self):
        self.runs.mkdir(parents=True, exist_ok=True)
        return self.runs
