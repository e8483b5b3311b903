#!/usr/bin/env python3
"""An external engine that follows podfleet's exec contract (doc/engines.md, "External command").

It finds the loud stretches of the chunk (10 ms frames more than 25 dB below the loudest are
quiet) and reports each as one segment whose text is "sound N", with one word per segment. It
recognises no speech: it exists to show the contract and to test podfleet's side of it (times,
chunk offsets, progress, errors). Use it as the skeleton of a real wrapper (NeMo, mlx-whisper).

    exec_example.py [--mode ok|fail|hang|garbage|crash] AUDIO.wav

Contract: AUDIO is the last argument (also $PODFLEET_AUDIO), 16 kHz mono 16-bit WAV; options come
in PODFLEET_LANGUAGE, PODFLEET_MODEL, PODFLEET_WORDS, PODFLEET_THREADS. One JSON object goes to
stdout, "progress F" lines and log lines to stderr; exit 0, or non-zero with a message.
"""
import argparse
import array
import json
import math
import os
import signal
import sys
import time
import wave


def loud_stretches(samples, rate):
    frame = rate // 100
    energies = []
    for i in range(0, len(samples) - frame + 1, frame):
        chunk = samples[i:i + frame]
        energies.append(sum(s * s for s in chunk) / frame)
        if len(energies) % 200 == 0:
            print(f"progress {min(1.0, i / max(1, len(samples))):.3f}", file=sys.stderr, flush=True)
    if not energies or max(energies) <= 0:
        return []
    threshold = max(energies) * 10 ** (-25 / 10)
    stretches, start = [], None
    for n, e in enumerate(energies + [0.0]):
        if e >= threshold and start is None:
            start = n
        elif e < threshold and start is not None:
            stretches.append((start / 100.0, n / 100.0))
            start = None
    return stretches


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="ok")
    parser.add_argument("audio")
    args = parser.parse_args()
    if args.mode == "fail":
        print("example engine: model weights not found", file=sys.stderr)
        return 3
    if args.mode == "hang":
        print("progress 0.1", file=sys.stderr, flush=True)
        time.sleep(3600)
    if args.mode == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if args.mode == "garbage":
        print("Traceback (most recent call last): not JSON at all")
        return 0
    with wave.open(args.audio, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != 16000:
            print("example engine: expected 16 kHz mono 16-bit WAV", file=sys.stderr)
            return 2
        samples = array.array("h", w.readframes(w.getnframes()))
    segments = []
    for n, (start, end) in enumerate(loud_stretches(samples, 16000), 1):
        segment = {"start": start, "end": end, "text": f"sound {n}"}
        if os.environ.get("PODFLEET_WORDS") == "1":
            segment["words"] = [{"word": f"sound{n}", "start": start, "end": end}]
        segments.append(segment)
    print("progress 1.0", file=sys.stderr)
    json.dump({"language": os.environ.get("PODFLEET_LANGUAGE", ""), "segments": segments}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
