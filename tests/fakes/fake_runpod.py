#!/usr/bin/env python3
"""A FAKE RunPod GraphQL API for tests: never a real cloud.

It implements the request and response shapes of RunPod's GraphQL API as the fact sheet
(shared/specs/runpod-pods-api.md) records them, strictly: a body other than {"query",
"variables"[, "operationName"]} is HTTP 400; an unknown input field or queried field is HTTP 400
with a GraphQL error naming it; a wrong API key is HTTP 401; business errors (no capacity,
unknown pod) are HTTP 200 with {"errors": [...]}, as RunPod answers.

Each pod it creates is a local process: `sh -c "$dockerArgs"` with the pod's env, in its own
process group and folder, with a stand-in nvidia-smi on PATH naming the pod's GPU (the pod's
"machine"). Terminating a pod kills its group. The state (pods, pids, created/terminated times,
prices, and the bill: lifetime x price per pod) is written to --state after every change, for the
test to check.

Faults: --no-capacity ID[@CLOUD] (repeatable) answers creates of that GPU type (on that cloud
type, SECURE or COMMUNITY; ALL fails only when both do) with RunPod's no-capacity error; --broken ID runs pods of that type without their command (they never register);
--rate-limit N answers the first N requests with 429 and Retry-After: 1.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CREATE_FIELDS = {
    "name", "imageName", "gpuTypeId", "gpuCount", "cloudType", "containerDiskInGb", "volumeInGb",
    "volumeMountPath", "env", "ports", "templateId", "dockerArgs", "startSsh", "supportPublicIp",
    "minVcpuCount", "minMemoryInGb", "dataCenterId", "countryCode", "networkVolumeId",
    "allowedCudaVersions", "minDownload", "minUpload",
}
POD_FIELDS = {
    "id", "name", "desiredStatus", "costPerHr", "gpuCount", "imageName", "machineId",
    "lastStatusChange", "uptimeSeconds", "containerDiskInGb", "volumeInGb", "volumeMountPath",
    "memoryInGb", "vcpuCount", "ports", "podType", "dockerArgs", "env", "machine", "runtime",
    # machine { ... } and runtime { ... }
    "gpuDisplayName", "podHostId", "uptimeInSeconds", "gpus", "container", "ip", "isIpPublic",
    "privatePort", "publicPort", "type", "gpuUtilPercent", "memoryUtilPercent", "cpuPercent",
    "memoryPercent",
}
GPU_FIELDS = {
    "id", "displayName", "manufacturer", "memoryInGb", "cudaCores", "maxGpuCount", "secureCloud",
    "communityCloud", "securePrice", "communityPrice", "secureSpotPrice", "communitySpotPrice",
    "oneWeekPrice", "oneMonthPrice", "threeMonthPrice", "lowestPrice", "minimumBidPrice",
    "uninterruptablePrice", "stockStatus", "availableGpuCounts",
}
NO_CAPACITY = ("There are no longer any instances available with the requested specifications. "
               "Please refresh and try again.")


class Bad(Exception):
    """A request RunPod would refuse with HTTP 400."""


def selection_fields(query, root):
    """The identifiers inside the selection set that follows `root`'s arguments."""
    at = query.index(root) + len(root)
    depth, start = 0, None
    i = at
    while i < len(query):
        c = query[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "{" and depth == 0:
            start = i
            break
        i += 1
    if start is None:
        return []
    body, level = [], 0
    for j in range(start, len(query)):
        c = query[j]
        level += c == "{"
        level -= c == "}"
        body.append(c)
        if level == 0:
            break
    text = re.sub(r"\([^)]*\)", "", "".join(body))  # arguments are not fields
    return re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)


def kill_pod(pod):
    """Kills the pod's process group, as terminating a machine would, and reaps it."""
    proc = pod.get("proc")
    if proc and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class Cloud:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.pods = {}
        self.serial = 0
        self.requests = 0
        self.gpus = []
        for spec in args.gpu:
            gid, name, price, stock = (spec.split("=") + ["High"])[:4]
            self.gpus.append({"id": gid, "displayName": name, "price": float(price), "stock": stock})
        os.makedirs(args.pods_dir, exist_ok=True)

    def full(self, gid, cloud):
        """Whether --no-capacity refuses GPU type `gid` on `cloud`."""
        refused = self.args.no_capacity
        if gid in refused:
            return True
        if cloud == "ALL":
            return all(f"{gid}@{c}" in refused for c in ("SECURE", "COMMUNITY"))
        return f"{gid}@{cloud}" in refused

    def gpu(self, gid):
        return next((g for g in self.gpus if g["id"] == gid), None)

    def save(self):
        bill = 0.0
        now = time.time()
        out = []
        for p in self.pods.values():
            end = p["terminated_at"] or now
            bill += (end - p["created_at"]) / 3600 * p["costPerHr"]
            out.append({k: v for k, v in p.items() if k != "proc"})
        tmp = self.args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"pods": out, "bill": bill, "requests": self.requests}, f, indent=1)
        os.replace(tmp, self.args.state)

    def start_process(self, pod, env_list, command, broken):
        folder = os.path.join(self.args.pods_dir, pod["id"])
        os.makedirs(os.path.join(folder, "bin"), exist_ok=True)
        smi = os.path.join(folder, "bin", "nvidia-smi")
        with open(smi, "w") as f:
            f.write("#!/bin/sh\ncase \"$*\" in\n"
                    f"  *--query-gpu*) echo \"NVIDIA {pod['gpuDisplayName']}, 550.54.15, 24564\" ;;\n"
                    "  *) echo \"| NVIDIA-SMI 550.54.15  Driver Version: 550.54.15  CUDA Version: 12.4 |\" ;;\n"
                    "esac\n")
        os.chmod(smi, 0o755)
        env = dict(os.environ)
        env["PATH"] = os.path.join(folder, "bin") + ":" + env.get("PATH", "")
        env["RUNPOD_POD_ID"] = pod["id"]
        for kv in env_list:
            env[kv["key"]] = kv["value"]
        argv = ["sh", "-c", "sleep 100000" if broken else command]
        log = open(os.path.join(folder, "pod.log"), "w")
        proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        pod["proc"] = proc
        pod["pid"] = proc.pid

    def create(self, variables, query):
        if "$input: PodFindAndDeployOnDemandInput!" not in query.replace("$input:PodFind", "$input: PodFind"):
            raise Bad('Variable "$input" must be declared as PodFindAndDeployOnDemandInput!')
        inp = variables.get("input")
        if not isinstance(inp, dict):
            raise Bad('Variable "$input" of required type "PodFindAndDeployOnDemandInput!" was not provided.')
        for k in inp:
            if k not in CREATE_FIELDS:
                raise Bad(f'Field "{k}" is not defined by type "PodFindAndDeployOnDemandInput".')
        for k in ("name", "gpuTypeId"):
            if not isinstance(inp.get(k), str) or not inp[k]:
                raise Bad(f'Field "{k}" of type String must be a non-empty string.')
        if not inp.get("imageName") and not inp.get("templateId"):
            raise Bad("imageName or templateId is required")
        if inp.get("cloudType", "ALL") not in ("ALL", "SECURE", "COMMUNITY"):
            raise Bad(f'Value "{inp["cloudType"]}" does not exist in "CloudTypeEnum" enum.')
        env = inp.get("env", [])
        if not isinstance(env, list) or any(not isinstance(e, dict) or set(e) != {"key", "value"} for e in env):
            raise Bad('Field "env" must be a list of {key, value}.')
        cuda = inp.get("allowedCudaVersions", [])
        if not isinstance(cuda, list) or any(not isinstance(v, str) for v in cuda):
            raise Bad('Field "allowedCudaVersions" must be a list of strings.')
        g = self.gpu(inp["gpuTypeId"])
        cloud = inp.get("cloudType", "ALL")
        if g is None or g["stock"] == "None" or self.full(g["id"], cloud):
            return None, NO_CAPACITY
        with self.lock:
            self.serial += 1
            pid = f"fake{self.serial:04d}pod"
            pod = {"id": pid, "name": inp["name"], "desiredStatus": "RUNNING",
                   "costPerHr": g["price"], "gpuCount": inp.get("gpuCount", 1),
                   "gpuTypeId": g["id"], "gpuDisplayName": g["displayName"],
                   "imageName": inp.get("imageName"), "cloudType": cloud,
                   "created_at": time.time(),
                   "terminated_at": None, "exited_at": None,
                   "env_keys": sorted(e["key"] for e in env)}
            self.start_process(pod, env, inp.get("dockerArgs", ""), g["id"] in self.args.broken)
            self.pods[pid] = pod
            self.save()
        return {"id": pid, "name": pod["name"], "desiredStatus": "RUNNING",
                "costPerHr": pod["costPerHr"], "machineId": "fake-machine", "imageName": pod["imageName"],
                "env": [f"{e['key']}={e['value']}" for e in env], "machine": {"podHostId": pid}}, None

    def terminate(self, pod_id):
        with self.lock:
            pod = self.pods.get(pod_id)
            if pod is None or pod["terminated_at"]:
                return False
            kill_pod(pod)
            pod["terminated_at"] = time.time()
            pod["desiredStatus"] = "TERMINATED"
            self.save()
            return True

    def pod_view(self, p):
        proc = p.get("proc")
        alive = proc is not None and proc.poll() is None
        if not alive and p["exited_at"] is None:
            p["exited_at"] = time.time()
        return {"id": p["id"], "name": p["name"],
                "desiredStatus": p["desiredStatus"] if alive else "EXITED",
                "costPerHr": p["costPerHr"], "gpuCount": p["gpuCount"], "imageName": p["imageName"],
                "machineId": "fake-machine", "lastStatusChange": "",
                "machine": {"gpuDisplayName": p["gpuDisplayName"], "podHostId": p["id"]},
                "runtime": {"uptimeInSeconds": int(time.time() - p["created_at"]), "ports": []} if alive else None}

    def list_pods(self):
        with self.lock:
            views = [self.pod_view(p) for p in self.pods.values() if not p["terminated_at"]]
            self.save()
            return views

    def gpu_types(self):
        return [{"id": g["id"], "displayName": g["displayName"], "memoryInGb": 24,
                 "securePrice": g["price"], "communityPrice": g["price"],
                 "lowestPrice": {"uninterruptablePrice": g["price"], "stockStatus": g["stock"],
                                 "minimumBidPrice": g["price"] / 2}} for g in self.gpus]

    def shutdown(self):
        for p in list(self.pods.values()):
            kill_pod(p)


def handle(cloud, body):
    """(status, response object) for one GraphQL request body."""
    if not isinstance(body, dict) or not set(body) <= {"query", "variables", "operationName"} or \
            not isinstance(body.get("query"), str):
        raise Bad("Must provide a query string; only query, variables and operationName are accepted.")
    query, variables = body["query"], body.get("variables") or {}
    if not isinstance(variables, dict):
        raise Bad("variables must be an object")
    if "podFindAndDeployOnDemand" in query:
        for f in selection_fields(query, "podFindAndDeployOnDemand"):
            if f not in POD_FIELDS:
                raise Bad(f'Cannot query field "{f}" on type "Pod".')
        pod, error = cloud.create(variables, query)
        if error:
            return 200, {"errors": [{"message": error, "path": ["podFindAndDeployOnDemand"]}], "data": None}
        return 200, {"data": {"podFindAndDeployOnDemand": pod}}
    if "podTerminate" in query:
        if selection_fields(query, "podTerminate"):
            raise Bad('Field "podTerminate" must not have a selection since type "Void" has no subfields.')
        m = re.search(r"podTerminate\s*\(\s*input\s*:\s*\{\s*podId\s*:\s*\$(\w+)\s*\}\s*\)", query)
        if not m or not isinstance(variables.get(m.group(1)), str):
            raise Bad('podTerminate needs input: {podId: String!}')
        if not cloud.terminate(variables[m.group(1)]):
            return 200, {"errors": [{"message": "pod not found"}], "data": {"podTerminate": None}}
        return 200, {"data": {"podTerminate": None}}
    if "myself" in query:
        for f in selection_fields(query, "pods"):
            if f not in POD_FIELDS:
                raise Bad(f'Cannot query field "{f}" on type "Pod".')
        return 200, {"data": {"myself": {"pods": cloud.list_pods()}}}
    if "gpuTypes" in query:
        for f in selection_fields(query, "gpuTypes"):
            if f not in GPU_FIELDS:
                raise Bad(f'Cannot query field "{f}" on type "GpuType".')
        return 200, {"data": {"gpuTypes": cloud.gpu_types()}}
    raise Bad("this fake knows podFindAndDeployOnDemand, podTerminate, myself { pods } and gpuTypes")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--pods-dir", required=True)
    ap.add_argument("--gpu", action="append", default=[], help="ID=NAME=PRICE[=STOCK]")
    ap.add_argument("--no-capacity", action="append", default=[])
    ap.add_argument("--broken", action="append", default=[])
    ap.add_argument("--rate-limit", type=int, default=0)
    args = ap.parse_args()
    cloud = Cloud(args)

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, obj, headers=()):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            with cloud.lock:
                cloud.requests += 1
                n = cloud.requests
            if self.path != "/graphql":
                return self.reply(404, {"message": "not found"})
            if self.headers.get("Authorization") != "Bearer " + args.key:
                return self.reply(401, {"errors": [{"message": "Unauthorized"}]})
            if n <= args.rate_limit:
                return self.reply(429, {"errors": [{"message": "Too Many Requests"}]}, [("Retry-After", "1")])
            if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                return self.reply(400, {"errors": [{"message": "Content-Type must be application/json"}]})
            try:
                status, obj = handle(cloud, json.loads(raw))
            except (Bad, json.JSONDecodeError) as e:
                status, obj = 400, {"errors": [{"message": str(e), "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}
            self.reply(status, obj)

        def log_message(self, fmt, *a):
            print("fake_runpod:", fmt % a, flush=True)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        cloud.shutdown()
        cloud.save()


if __name__ == "__main__":
    main()
