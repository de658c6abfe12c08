"""Faults: an analysis interrupted (process killed, client gone), optional parts missing, hostile model files.

- The command line killed while it writes its exports: Ctrl-C and SIGTERM remove the file being
  written; SIGKILL can't be caught (a hidden temporary file may stay), yet every output under its
  final name is complete (written atomically) and the next run over the same folder works.
- A gradio client killed mid-analysis: the server lives on and answers the next request.
- openai-whisper not importable: a subprocess blocks the import (this stands in for the package
  not being installed, which can't be arranged in a shared venv) and gets a clear error, while
  the default backend in the same process still works.
- A checkpoint whose video branch needs R3D-18 weights that are not cached, offline: a clear
  message naming the part and the remedy, from the library, the command line and the app.
- Hostile model files: wrong types and huge sizes in config.json, a path-like source that holds a
  pickle, malformed safetensors headers: each refused with a CheckpointError, nothing executed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from mediagen import make_video, talking_video

from mmsent.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mmsent.config import tiny_config
from mmsent.model import build_model

from conftest import ROOT, env_with, unrecorded

CLI_TIMEOUT_S = 300  # s for one command-line run on a busy 2-core machine
POLL_S = 0.005  # s between looks at the output folder
APP_TIMEOUT_S = 180  # s for one app request
TRACE = "Traceback (most recent call last)"
# Python code run first in a subprocess: no connection leaves the machine (as conftest does in-process).
OFFLINE = ("import socket\n_c = socket.socket.connect\n"
           "def _connect(self, a):\n"
           "    if isinstance(a, tuple) and not str(a[0]).startswith(('127.', 'localhost', '::1')):\n"
           "        raise OSError('offline: refused ' + repr(a))\n"
           "    return _c(self, a)\n"
           "socket.socket.connect = _connect\n")
BLOCK_WHISPER = ("import sys, importlib.abc\n"
                 "class _Block(importlib.abc.MetaPathFinder):\n"
                 "    def find_spec(self, name, path=None, target=None):\n"
                 "        if name == 'whisper' or name.startswith('whisper.'):\n"
                 "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
                 "sys.meta_path.insert(0, _Block())\n")


def run_python(code: str, tmp: Path) -> subprocess.CompletedProcess:
    """Run Python code in a fresh offline interpreter (TMPDIR under tmp); its output is captured."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_with(tmp),
                          timeout=CLI_TIMEOUT_S)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faults")
    return talking_video(folder / "talk.mp4", ["I missed the last train home again.", "It was a long cold night."],
                         size=(320, 240)).path


def complete(path: Path) -> bool:
    """Whether an export is whole: JSON parses, text ends in a newline, a video decodes to its end."""
    if path.suffix == ".json":
        return bool(json.loads(path.read_text())["segments"])
    if path.suffix == ".mp4":
        with av.open(str(path)) as c:
            return sum(1 for _ in c.decode(video=0)) > 0
    return path.read_text().endswith("\n")


def run_and_signal(video: Path, out: Path, tmp: Path, sig: int) -> tuple[subprocess.CompletedProcess, bool]:
    """Start an analysis that exports the annotated video first; send ``sig`` once a hidden temporary
    file shows that an export is being written. Returns the finished process and whether it was caught
    in the act."""
    cmd = [sys.executable, "-m", "mmsent", "analyze", str(video), "--out", str(out),
           "--format", "mp4,json,csv,srt,html", "--no-contributions"]
    # started as from a terminal: a background parent (nohup, "&" in a script) passes SIGINT on as
    # ignored, and Python then installs no Ctrl-C handler at all
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_with(tmp),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    caught, deadline = False, time.monotonic() + CLI_TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        if out.is_dir() and any(p.name.startswith(".") for p in out.iterdir()):
            proc.send_signal(sig)
            caught = True
            break
        time.sleep(POLL_S)
    stdout, stderr = proc.communicate(timeout=CLI_TIMEOUT_S)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), caught


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["int", "term", "kill"])
def test_killed_command_line_leaves_no_partial_output(speech, tmp_path, sig):
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    done, caught = run_and_signal(speech, out, tmp, sig)
    assert caught, f"the run ended before any export was seen:\n{done.stderr[-2000:]}"
    visible = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert all(complete(p) for p in visible), visible
    if sig == signal.SIGKILL:
        assert done.returncode == -signal.SIGKILL
    else:  # caught: the file being written is gone, the user gets one line, not a traceback
        assert done.returncode == 130, done.stderr[-2000:]
        assert "interrupted" in done.stderr and TRACE not in done.stderr, done.stderr[-2000:]
        assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
        assert sorted(p.name for p in tmp.iterdir()) in ([], [".ses"])  # .ses: onnxruntime's telemetry id
        return  # the next run is tried once, after the harshest end
    again = subprocess.run([sys.executable, "-m", "mmsent", "analyze", str(speech), "--out", str(out),
                            "--format", "json,srt", "--no-contributions"],
                           capture_output=True, text=True, env=env_with(tmp), timeout=CLI_TIMEOUT_S)
    assert again.returncode == 0, again.stderr[-2000:]
    data = json.loads((out / "talk.json").read_text())
    assert "train" in " ".join(s["text"] for s in data["segments"]).lower()
    assert complete(out / "talk.srt")


def test_client_gone_mid_analysis_and_the_next_request_works(speech, tmp_path):
    from app_server import AppServer
    from gradio_client import Client, handle_file

    with AppServer(tmp_path / "app.log") as server:
        # a client in its own process: submit, say when the analysis runs, then it is killed
        code = (OFFLINE + "import sys, time\nfrom gradio_client import Client, handle_file\n"
                f"c = Client({server.url!r}, analytics_enabled=False, verbose=False)\n"
                f"job = c.submit(handle_file({str(speech)!r}), None, 'auto', 'faster-whisper', 10.0, "
                "api_name='/analyze')\n"
                "while job.status().code.name not in ('PROCESSING', 'PROGRESS') and not job.done():\n"
                "    time.sleep(0.02)\n"
                "print('DONE' if job.done() else 'RUNNING', flush=True)\ntime.sleep(600)\n")
        client = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                                  env=env_with(tmp_path))
        line = client.stdout.readline()
        client.kill()
        client.wait()
        assert line.strip() == "RUNNING"
        short = make_video(tmp_path / "next.mp4", 1.0, size=(96, 64), fps=10)
        result = Client(server.url, analytics_enabled=False, verbose=False).predict(
            handle_file(short), None, "auto", "faster-whisper", 10.0, api_name="/analyze")
        analysis = json.loads(result[-1])
        assert analysis["segments"] and analysis["media"]["duration"] == pytest.approx(1.0, abs=0.1)
        assert server.proc.poll() is None
        assert "failed unexpectedly" not in server.log_tail(200_000)


def test_openai_whisper_missing_gives_a_clear_error(speech, tmp_path):
    """The import of ``whisper`` is blocked in a subprocess: a stand-in for openai-whisper not installed."""
    out = tmp_path / "out"
    code = (BLOCK_WHISPER + OFFLINE + "from mmsent.__main__ import main\n"
            f"args = [{str(speech)!r}, '--out', {str(out)!r}, '--no-contributions']\n"
            "print('RC', main(['analyze', *args, '--asr', 'openai-whisper']), flush=True)\n"
            "print('RC', main(['analyze', *args]), flush=True)\n")
    done = run_python(code, tmp_path)
    assert [x for x in done.stdout.splitlines() if x.startswith("RC")] == ["RC 1", "RC 0"], done.stderr[-2000:]
    assert "the openai-whisper backend is not installed: pip install openai-whisper" in done.stderr
    assert TRACE not in done.stderr, done.stderr[-2000:]
    assert "train" in " ".join(s["text"] for s in json.loads((out / "talk.json").read_text())["segments"]).lower()


@pytest.fixture()
def r3d_checkpoint(saved_tiny, tmp_path, monkeypatch) -> Path:
    """A tiny checkpoint whose video branch is R3D-18 (Kinetics-400), with an empty torch hub cache."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    folder = saved_tiny
    meta = json.loads((folder / "config.json").read_text())
    meta["model"]["video_source"] = "r3d_18-kinetics400"
    meta["sources"]["video"]["source"] = "r3d_18-kinetics400"
    (folder / "config.json").write_text(json.dumps(meta))
    return folder


def test_video_weights_unavailable_offline(r3d_checkpoint, tmp_path, speech):
    remedy = "Connect to the internet once"
    with pytest.raises(CheckpointError, match=f"R3D-18 \\(Kinetics-400\\) is unavailable.*{remedy}"):
        load_checkpoint(r3d_checkpoint)
    cli = (OFFLINE + "import sys\nfrom mmsent.__main__ import main\n"
           f"sys.exit(main(['analyze', {str(speech)!r}, '--checkpoint', {str(r3d_checkpoint)!r}, "
           f"'--out', {str(tmp_path / 'out')!r}]))\n")
    app = (OFFLINE + "import runpy, sys\n"
           f"sys.argv = ['app.py', '--checkpoint', {str(r3d_checkpoint)!r}, '--port', '0']\n"
           f"runpy.run_path({str(ROOT / 'app.py')!r}, run_name='__main__')\n")
    # the command line and the demo, run at once: each spends most of its time importing, on one core
    runs = [(subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env_with(tmp_path)), status) for code, status in ((cli, 2), (app, 1))]
    for run, status in runs:
        _, err = run.communicate(timeout=CLI_TIMEOUT_S)
        assert run.returncode == status, err[-2000:]
        assert "cannot load the model" in err and remedy in err and TRACE not in err


# --- hostile model files (tests/test_checkpoint.py covers pickles, missing/extra keys, wrong shapes, an
# unknown encoder name and a tampered hash; these add wrong types, huge sizes, path-like sources and
# malformed safetensors headers) ---

@pytest.fixture()
def saved_tiny(tmp_path):
    return save_checkpoint(build_model(tiny_config()), tmp_path / "ckpt")


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["model"].update(embed_dim=10**9), "embed_dim must be an integer from 1 to 8192"),  # 128 GB
    (lambda m: m["model"].update(embed_dim="128"), "embed_dim must be an integer"),
    (lambda m: m["model"].update(emotions=5), "emotions must be a list of distinct strings"),
    (lambda m: m["model"].update(emotions=["joy", "joy"]), "emotions must be a list of distinct strings"),
    (lambda m: m["model"].update(sentiments=["bad", "neutral", "good"]), "sentiments must include negative and positive"),
    (lambda m: m["model"].update(emotions=["joy", "disgust", "fear", "anger", "neutral", "sadness", "surprise"]),
     "names the emotions ['joy', 'disgust', 'fear', 'anger', 'neutral', 'sadness', 'surprise'], but its weights were "
     "trained on ['anger', 'disgust', 'fear', 'joy', 'neutral', 'sadness', 'surprise'] in that order"),  # swapped
    (lambda m: m["model"].update(sentiments=["negative", "calm", "positive"]), "names the sentiments"),  # renamed
    (lambda m: m["model"].update(audio_channels=[[1]]), "audio_channels must be a non-empty list"),
    (lambda m: m["model"].update(dropout="0.3"), "dropout must be a number in"),
    (lambda m: m["model"].update(text_source={"_target_": "os.system"}), "text_source must be a string"),
    (lambda m: m.update(format_version="1"), "format_version must be an integer"),
    (lambda m: m.update(sources="r3d"), "'sources' must map each part"),
    (lambda m: m["model"].update(text_source="/etc"), "text encoder '/etc' is unavailable"),
])
def test_hostile_config_is_refused(saved_tiny, edit, message):
    meta = json.loads((saved_tiny / "config.json").read_text())
    edit(meta)
    (saved_tiny / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=message.replace("(", "\\(").replace("[", "\\[")):
        load_checkpoint(saved_tiny)


def test_text_source_pointing_at_a_pickle_is_never_unpickled(saved_tiny, tmp_path):
    """A config.json may name a local folder as its text encoder: only safetensors weights load from it."""
    import pickle

    from transformers import BertConfig

    marker, evil = tmp_path / "pwned", tmp_path / "evil_encoder"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(evil)
    (evil / "pytorch_model.bin").write_bytes(pickle.dumps(Evil()))
    meta = json.loads((saved_tiny / "config.json").read_text())
    meta["model"]["text_source"] = str(evil)
    (saved_tiny / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="no file named model.safetensors"):
        load_checkpoint(saved_tiny)
    assert not marker.exists()


def test_malformed_safetensors_headers_are_refused(saved_tiny):
    import struct

    path = unrecorded(saved_tiny) / "model.safetensors"
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header, body = json.loads(data[8:8 + n]), data[8 + n:]

    def with_header(h: dict) -> bytes:
        raw = json.dumps(h).encode()
        return struct.pack("<Q", len(raw)) + raw + body

    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    variants = {
        "header too large": struct.pack("<Q", 2**40) + b"{}",  # claims a 1 TB header
        "expected a string": with_header({**header, "__metadata__": {"format": {"nested": ["not", "text"]}}}),
        "invalid shape, data type, or offset": with_header(
            {k: {**v, "data_offsets": [0, 10**12]} for k, v in tensors.items()}),
        "unknown variant": with_header({k: {**v, "dtype": "O"} for k, v in tensors.items()}),  # numpy object
        "incomplete metadata": data[: len(data) // 2],
    }
    for message, content in variants.items():
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=f"not a readable safetensors file.*{message}"):
            load_checkpoint(saved_tiny)
