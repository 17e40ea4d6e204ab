"""The child side of the sandbox: the only place where a learner's code runs.

Started by grader.sandbox as `python child.py REQUEST_FD REPLY_FD`. It reads a
setup frame, imports the learner's file, then answers call requests until the
request pipe closes. It decides nothing: every verdict is made by the parent
from the plain data this process sends back.
"""

import os
import sys

# This script's folder is grader/; keep only wire.py from it, so that the rest
# of the grader (and the reference solutions) is not importable from here.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path.pop(0)
sys.path.insert(0, _HERE)
import importguard  # noqa: E402
import landlock  # noqa: E402
import schedstat  # noqa: E402
import wire  # noqa: E402

sys.path.remove(_HERE)
# The reference's child: refuse modules written after the submission started (importguard.py).
if os.environ.get("CONTRASTIVE_KIT_TRUST_FILES_BEFORE_NS"):
    importguard.install(int(os.environ.pop("CONTRASTIVE_KIT_TRUST_FILES_BEFORE_NS")))

import contextlib  # noqa: E402
import importlib.util  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import torch  # noqa: E402  (imported before the learner's code so its patches cannot precede it)

_write = os.write  # bound now: learner code may replace os.write later
_exit = os._exit
_ZYGOTE = sys.argv[1] == "--zygote"   # zygote_main: fork a child per request instead
_REQUEST_FD = -1 if _ZYGOTE else int(sys.argv[1])
_REPLY_FD = -1 if _ZYGOTE else int(sys.argv[2])
_handles: dict = {}
_module = None
_learner_file = ""


def _send(message):
    wire.write_frame(_REPLY_FD, message, _write)


def _learner_cache():
    try:
        return os.path.realpath(importlib.util.cache_from_source(_learner_file)) if _learner_file else ""
    except (ValueError, NotImplementedError):
        return ""


def _install_guard(guard_dirs, blocked_modules, private_paths=()):
    """Refuse (and report at once) any attempt to read the reference solutions, or the data
    the checks keep from the submission (private_paths: files or folders)."""
    dirs = tuple(os.path.realpath(d).rstrip(os.sep) + os.sep for d in guard_dirs)
    private = tuple(os.path.realpath(p).rstrip(os.sep) + os.sep for p in private_paths)
    blocked = tuple(blocked_modules)
    realpath = os.path.realpath

    def report(detail):
        try:
            wire.write_frame(_REPLY_FD, {"event": "integrity", "detail": detail}, _write)
        except BaseException:
            _exit(70)

    def guarded(text):
        return any(text.startswith(d) or d in text for d in dirs)

    # A relative path may be relative to a directory descriptor (os.open(..., dir_fd=...)),
    # which the audit event does not carry: a reference's file name, or a "solutions" folder
    # in the path, is refused unless it is the submission's own file.
    names = set()
    for d in dirs:
        try:
            names.update(n for n in os.listdir(d) if n.endswith(".py") and not n.startswith("_"))
        except OSError:
            pass
    folder_names = {os.path.basename(d.rstrip(os.sep)) for d in dirs}

    def reads_reference(path):
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        if not isinstance(path, str) or not dirs:
            return False
        if realpath(path) in (_learner_file, _learner_cache()):
            return False  # its own file, and the bytecode cache the import system looks for
        if guarded(realpath(path) + os.sep):
            return True
        if os.path.isabs(path) or realpath(path) == _learner_file:
            return False
        parts = os.path.normpath(path).split(os.sep)
        return parts[-1] in names or any(part in folder_names for part in parts[:-1])

    def names_reference(text):
        if guarded(text):
            return True
        words = [w.strip("'\"") for w in text.replace(":", " ").replace("=", " ").split()]
        return any(part in folder_names or part in names
                   for word in words for part in word.split("/") if part)

    def reads_private(path):
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        return bool(private) and isinstance(path, str) and (realpath(path) + os.sep).startswith(private)

    def hook(event, args):
        if event in ("open", "os.listdir", "os.scandir", "os.link", "os.rename", "os.symlink",
                     "shutil.copyfile", "shutil.copytree"):
            if reads_private(args[0]):
                report(f"{event} on {os.path.basename(str(args[0]))}, data the grader keeps from submissions")
                raise PermissionError("the grader does not let submissions read this file (labelled data)")
        if event == "open":
            if reads_reference(args[0]):
                report(f"opened {os.path.basename(str(args[0]))} from the kit's reference solutions")
                raise PermissionError("the grader does not let submissions read the reference solutions")
        elif event in ("os.link", "os.rename", "os.symlink", "shutil.copyfile", "shutil.copytree"):
            if reads_reference(args[0]):
                report(f"{event} on the kit's reference solutions")
                raise PermissionError("the grader does not let submissions read the reference solutions")
        elif event == "import":
            name = str(args[0])
            if name.split(".")[0] in blocked:
                report(f"imported {name}")
                raise ImportError(f"submissions may not import {name}")
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"):
            text = " ".join(str(a) for a in args)
            if dirs and names_reference(text):
                report(f"ran a command that reads the reference solutions ({event})")
                raise PermissionError("the grader does not let submissions read the reference solutions")

    sys.addaudithook(hook)


def _where(tb):
    """The innermost frame of the learner's own file, as 'file line N'."""
    line = None
    for frame in traceback.extract_tb(tb):
        if os.path.abspath(frame.filename) == _learner_file:
            line = frame.lineno
    return f"{os.path.basename(_learner_file)} line {line}" if line else ""


def _describe(exc: BaseException) -> dict:
    text = str(exc)
    kind = "exception"
    if isinstance(exc, NotImplementedError):
        kind = "not_implemented"
    elif isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError)
        and ("can't allocate memory" in text or "out of memory" in text.lower())
    ):
        kind = "memory"
    elif isinstance(exc, SystemExit):
        kind = "exit"
        text = f"called sys.exit({exc.code!r})"
    return {
        "type": type(exc).__name__,
        "mro": [c.__name__ for c in type(exc).__mro__],
        "message": text[:2000],
        "where": _where(exc.__traceback__),
        "kind": kind,
    }


def _load(setup):
    global _module, _learner_file
    _learner_file = os.path.abspath(setup["path"])
    folder = os.path.dirname(_learner_file)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("submission", _learner_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        return {"ok": False, "error": {
            "kind": "syntax", "type": "SyntaxError", "mro": ["SyntaxError"],
            "message": exc.msg or "invalid syntax", "line": exc.lineno, "offset": exc.offset,
            "where": f"{os.path.basename(exc.filename or _learner_file)} line {exc.lineno}",
        }}
    except BaseException as exc:  # the learner's module body may raise anything, SystemExit included
        return {"ok": False, "error": _describe(exc)}
    _module = module
    names = [n for n in setup.get("require", []) if not hasattr(module, n)]
    # what it does define, for "did you mean ...?" next to a missing name
    defined = [n for n, v in list(vars(module).items())[:500]
               if isinstance(n, str) and not n.startswith("_") and callable(v)] if names else []
    return {"ok": True, "missing": names, "defined": defined}


def _to_device(value, device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, list):
        return [_to_device(v, device) for v in value]
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def _plain(value, depth=0):
    """Keep plain data; park anything else in the handle table."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if depth < 4 and isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if depth < 4 and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    return _park(value)


_threads = 0


def _resolve(target):
    if isinstance(target, str):
        return getattr(_module, target)
    obj = _handles[target["handle"]]
    attr = target.get("attr")
    return getattr(obj, attr) if attr else obj


def _sync(device):
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize()


def _emitter(name):
    def emit(**fields):
        _send({"event": name, "fields": _plain(fields)})

    return emit


def _add_generator(request, kwargs, device):
    """A request's generator_seed becomes generator=torch.Generator(device).manual_seed(seed)."""
    seed = request.get("generator_seed")
    if seed is not None:
        kwargs["generator"] = torch.Generator(device=device).manual_seed(int(seed))


def _park(value):
    """Keep value in the handle table (even a tensor) and return its handle."""
    handle = max(_handles, default=0) + 1
    _handles[handle] = value
    return {"__handle__": handle, "type": type(value).__name__}


def _reset_threads():
    # A thread count the submission set at import or in an earlier call does not carry over:
    # every call starts with the count the grader gave both sides.
    if _threads and torch.get_num_threads() != _threads:
        torch.set_num_threads(_threads)


def _return_large_blocks():
    """glibc raises its mmap threshold as large blocks are freed, then serves them from a heap
    that keeps what it grew to: the address space then follows the allocator's history, not
    what the call holds. A fixed threshold (256 KiB) returns every large block at once. It
    stays for the rest of this process's life (glibc cannot turn its dynamic threshold back
    on), so the checks that set a budget run after the speed checks."""
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-3, 256 * 1024)   # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def _memory_budget(budget, device):
    """Cap what the call inside allocates beyond what the process holds when it starts, at
    budget bytes: on the CPU by lowering the soft address-space limit for the call (an
    allocation past it fails at once, as a memory error); on CUDA by the allocator's peak,
    checked after the call. A bound for honest code: the soft limit can be raised again."""
    if not budget:
        yield
        return
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        yield
        torch.cuda.synchronize()
        used = torch.cuda.max_memory_allocated() - before
        if used > budget:
            raise MemoryError(f"out of memory: the call allocated {used / 2**20:.0f} MiB on the GPU, "
                              f"more than its budget of {budget / 2**20:.0f} MiB")
        return
    _return_large_blocks()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        in_use = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = in_use + int(budget)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


_real_monotonic, _real_perf_counter = time.monotonic, time.perf_counter


class _BusyClock:
    """The clock a training budget is measured on: wall time less the time this process's most
    delayed thread spent waiting for a CPU that other programs held. On an idle machine it is
    wall time (the budget's calibration); on a busy one it slows, so that a submission gets the
    compute the budget stands for. Read from /proc at most every REFRESH_S; never goes back."""

    REFRESH_S = 0.05

    def __init__(self):
        self.start_waits = schedstat.thread_waits()
        self.wall0 = self.read_at = _real_monotonic()
        self.lost = self.last = 0.0

    def elapsed(self) -> float:
        now = _real_monotonic()
        if now - self.read_at >= self.REFRESH_S:
            waits = schedstat.thread_waits()
            self.lost = max([w - self.start_waits.get(t, 0.0) for t, w in waits.items()] or [0.0])
            self.read_at = now
        self.last = max(self.last, now - self.wall0 - self.lost)
        return self.last


@contextlib.contextmanager
def _budget_clock(enabled: bool):
    """time.monotonic and time.perf_counter on the busy clock during one call, when asked."""
    if not enabled:
        yield None
        return
    clock = _BusyClock()
    base_m, base_p = _real_monotonic(), _real_perf_counter()
    time.monotonic = lambda: base_m + clock.elapsed()
    time.perf_counter = lambda: base_p + clock.elapsed()
    try:
        yield clock
    finally:
        time.monotonic, time.perf_counter = _real_monotonic, _real_perf_counter


def _call(request):
    _reset_threads()
    device = request.get("device", "cpu")
    args = _to_device(wire.unwrap(request.get("args", [])), device)
    kwargs = _to_device(wire.unwrap(request.get("kwargs", {})), device)
    for index, value in request.get("handle_args", []):
        args[index] = _handles[value]
    for key, value in request.get("handle_kwargs", {}).items():
        kwargs[key] = _handles[value]
    _add_generator(request, kwargs, device)
    grad_args = request.get("grad_args") or []
    for i in grad_args:
        args[i] = torch._C.TensorBase.requires_grad_(torch._C.TensorBase.detach(args[i]), True)
    fn = _resolve(request["target"])
    event_global = request.get("event_global")
    if event_global:
        setattr(_module, event_global, _emitter("progress"))
    started = _real_perf_counter()
    with torch.set_grad_enabled(True), _memory_budget(request.get("memory_budget"), device), \
            _budget_clock(bool(request.get("busy_clock"))):
        output = fn(*args, **kwargs)
        grads = None
        if request.get("backward"):
            grads = _backward(output, request["backward"].get("index"), request.get("grad_output"), device)
        elif grad_args:
            if not isinstance(output, torch.Tensor):
                grads = "output is not a tensor"
            elif not output.requires_grad:
                grads = "output does not require grad (is it detached from the inputs?)"
            else:
                grad_output = request.get("grad_output")
                if grad_output is not None:
                    grad_output = wire.unwrap(grad_output).to(device)
                elif output.numel() != 1:
                    grad_output = torch.ones_like(output)
                got = torch.autograd.grad(output, [args[i] for i in grad_args], grad_output,
                                          allow_unused=True)
                grads = list(got)   # the wire detaches, by torch's C methods
    _sync(device)
    seconds = _real_perf_counter() - started
    reply = {"ok": True, "output": _plain(output), "grads": grads, "seconds": seconds}
    if request.get("return_inputs"):
        # the very objects the submission got: the wire reads them by torch's C methods, so a
        # patched Tensor.detach (returning a copy saved before an in-place change) shows nothing
        reply["inputs_after"] = [a if isinstance(a, torch.Tensor) else None for a in args]
    return reply


def _backward(output, index, grad_output, device):
    """Backpropagate the output (or its element index) as a training loop would: the gradients
    land in the .grad of the modules it came from. None, or why it could not."""
    loss = output if index is None else output[index]
    if not isinstance(loss, torch.Tensor):
        return "the loss is not a tensor"
    if not loss.requires_grad:
        return "the loss does not require grad (is it detached from the parameters?)"
    if grad_output is not None:
        grad_output = wire.unwrap(grad_output).to(device)
    torch.autograd.backward(loss, grad_output)
    return None


# Modules the checks describe in plain data (build_module): layer names, sizes and state.
_LAYERS = {"linear": torch.nn.Linear, "batchnorm": torch.nn.BatchNorm1d, "relu": torch.nn.ReLU,
           "tanh": torch.nn.Tanh}
_grad_batches: dict = {}   # handle -> {"largest_grad_batch": int, "grad_forwards": int}


def _build_module(request):
    """A torch.nn.Sequential of _LAYERS built from plain data, its state_dict loaded, optional
    .grad on its parameters. A pre-hook on its first layer (which module.forward reaches too)
    counts the forward passes made with grad enabled and the largest batch among them."""
    description = _to_device(wire.unwrap(request["description"]), request.get("device", "cpu"))
    layers = [_LAYERS[name](*sizes) for name, *sizes in description["layers"]]
    dtype = getattr(torch, description["dtype"])
    module = torch.nn.Sequential(*layers).to(device=request.get("device", "cpu"), dtype=dtype)
    module.load_state_dict(description["state"])
    for name, grad in description.get("grads", {}).items():
        module.get_parameter(name).grad = grad.to(dtype)
    handle = _park(module)
    counts = _grad_batches[handle["__handle__"]] = {"largest_grad_batch": 0, "grad_forwards": 0}

    def count(layer, inputs):
        if torch.is_grad_enabled() and inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].dim():
            counts["grad_forwards"] += 1
            counts["largest_grad_batch"] = max(counts["largest_grad_batch"], int(inputs[0].shape[0]))

    module[0].register_forward_pre_hook(count)
    return handle


def _module_state(request):
    """A module's parameters, their .grad (None where there is none), its buffers, and the
    counts of _build_module's hook, as plain tensors."""
    module = _handles[request["handle"]]
    return {"parameters": dict(module.named_parameters()),
            "grads": {name: p.grad for name, p in module.named_parameters()},
            "buffers": dict(module.named_buffers()),
            **_grad_batches.get(request["handle"], {})}


def _in_batch_info_nce(temperature):
    """The loss_fn the checks hand to a submission: InfoNCE from each row of e1 to the rows of
    e2 (its own row positive, the others negative), cosine similarities / temperature."""
    def loss_fn(e1, e2):
        logits = torch.nn.functional.normalize(e1, dim=1) @ torch.nn.functional.normalize(e2, dim=1).T
        return torch.nn.functional.cross_entropy(logits / temperature, torch.arange(len(e1), device=e1.device))

    return loss_fn


_LOSSES = {"in_batch_info_nce": _in_batch_info_nce}


def _call_many(request):
    _reset_threads()
    device = request.get("device", "cpu")
    fn = _resolve(request["target"])
    kwargs = _to_device(wire.unwrap(request.get("kwargs", {})), device)
    _add_generator(request, kwargs, device)
    outputs = []
    with torch.no_grad():
        for args in request["arg_list"]:
            outputs.append(_plain(fn(*_to_device(wire.unwrap(args), device), **kwargs)))
    return {"ok": True, "outputs": outputs}


def _serve():
    while True:
        try:
            request = wire.read_frame(_REQUEST_FD)
        except EOFError:
            return
        op = request.get("op")
        try:
            if op == "call":
                reply = _call(request)
            elif op == "call_many":
                reply = _call_many(request)
            elif op == "put":
                value = _to_device(wire.unwrap(request.get("value")), request.get("device", "cpu"))
                reply = {"ok": True, "output": _park(value)}
            elif op == "release":
                _handles.pop(request["handle"], None)
                _grad_batches.pop(request["handle"], None)
                reply = {"ok": True}
            elif op == "build_module":
                reply = {"ok": True, "output": _build_module(request)}
            elif op == "module_state":
                reply = {"ok": True, "output": _plain(_module_state(request))}
            elif op == "loss_fn":
                reply = {"ok": True, "output": _park(_LOSSES[request["name"]](**request.get("options", {})))}
            elif op == "seed":
                torch.manual_seed(int(request["seed"]))  # also seeds every CUDA device
                reply = {"ok": True}
            else:
                reply = {"ok": False, "error": {"kind": "protocol", "type": "ProtocolError",
                                                "mro": [], "message": f"unknown op {op!r}", "where": ""}}
        except BaseException as exc:  # learner code raised: describe it, keep serving
            reply = {"ok": False, "error": _describe(exc)}
        try:
            _send(reply)
        except TypeError as exc:
            _send({"ok": False, "error": {"kind": "exception", "type": "TypeError", "mro": ["TypeError"],
                                          "message": str(exc), "where": ""}})


def main():
    try:
        setup = wire.read_frame(_REQUEST_FD)
    except EOFError:   # a warm child (grader.sandbox.WarmChildren) that was never used
        _exit(0)
    os.chdir(setup["cwd"])
    global _threads
    _threads = int(setup.get("threads") or torch.get_num_threads())
    torch.set_num_threads(_threads)
    limit = setup.get("memory_limit")
    if limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    private = setup.get("private_paths", [])
    if setup.get("deny_read_dirs") or private:
        # The kernel's word, which the submission cannot switch off as it could the hook below.
        landlock.deny_reads(setup.get("deny_read_dirs", []) + private, [os.path.abspath(setup["path"])])
    _install_guard(setup.get("guard_dirs", []), setup.get("blocked_modules", []), private)
    _send(_load(setup))
    _serve()
    sys.stdout.flush()
    _exit(0)


def zygote_main(control_fd: int) -> None:
    """Serve fork requests (grader.sandbox.Zygote): each request on the control socket brings
    four descriptors (request, reply, output, status) and the child's environment; the fork
    starts a session of its own, takes the descriptors as its pipes and stdout/stderr, and runs
    main() as a child started with `child.py REQUEST_FD REPLY_FD` would, torch already imported.
    When a child ends, its wait status goes to its status descriptor. This process runs no
    learner code and holds nothing of a grading; it exits when the control socket closes."""
    import json
    import select
    import signal
    import socket
    import struct

    control = socket.socket(fileno=control_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    status_of: dict[int, int] = {}
    while True:
        ready, _, _ = select.select([control, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            while status_of:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                fd = status_of.pop(pid, None)
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.write(fd, struct.pack("<i", os.waitstatus_to_exitcode(status)))
                    os.close(fd)
        if control in ready:
            try:
                message, fds, _, _ = socket.recv_fds(control, 65536, 4)
            except OSError:
                message, fds = b"", []
            if not message or len(fds) != 4:
                for fd in fds:
                    os.close(fd)
                if not message:
                    _exit(0)
                continue
            env = json.loads(message)
            pid = os.fork()
            if pid == 0:
                global _REQUEST_FD, _REPLY_FD
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.setsid()
                request_fd, reply_fd, output_fd, _ = fds
                os.dup2(output_fd, 1)
                os.dup2(output_fd, 2)
                for name in os.listdir("/proc/self/fd"):   # nothing of the zygote's, nor siblings'
                    if int(name) > 2 and int(name) not in (request_fd, reply_fd):
                        with contextlib.suppress(OSError):
                            os.close(int(name))
                os.environ.clear()
                os.environ.update(env)
                _REQUEST_FD, _REPLY_FD = request_fd, reply_fd
                try:
                    main()
                finally:
                    _exit(1)
            for fd in fds[:3]:
                os.close(fd)
            status_of[pid] = fds[3]
            control.sendall(struct.pack("<i", pid))


if __name__ == "__main__":
    if _ZYGOTE:
        zygote_main(int(sys.argv[2]))
    else:
        main()
