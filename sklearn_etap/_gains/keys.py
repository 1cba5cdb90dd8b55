"""What a cached training depends on, described as plain data to hash.

A cache key must change whenever the training could: a torch module's
weights and plain attributes (``self.scale`` read in ``forward``), the code
of a user's class or factory, the helper functions and module-level globals
that code reads, and what a closure or a ``functools.partial`` holds. So
values are described by what can be observed of them, not by their source
text or name:

* functions by their compiled code (bytecode, constants, names; nested
  functions and lambdas included), their defaults, closure cells and the
  globals their code reads, recursively;
* classes defined outside a library by their bases and the description of
  every attribute in their ``__dict__`` (methods as functions);
* objects (torch modules included) by their class and instance
  ``__dict__``; tensors and arrays by dtype, shape and bytes;
* objects of installed libraries (torch, numpy, the standard library, this
  package) by their qualified name and the library's version, or by
  ``joblib.hash`` for instances.

Compiled code does not need the source file, so a class typed into an
interactive session is keyed as soundly as one in a file, and two lambdas
on one line are told apart. What cannot be described this way (an object
with neither ``__dict__`` nor a pickle) is refused by name with
:class:`UnkeyableError`.
"""

import functools
import sys
import sysconfig
import types
from pathlib import Path

import joblib
import numpy as np
import torch

# Libraries whose objects are keyed by name and version (this package's
# version is in every key).
_LIBRARY_ROOTS = frozenset({"sklearn_etap", "builtins", "__future__"})
_SKIPPED_CLASS_ATTRIBUTES = frozenset(
    {
        "__dict__",
        "__weakref__",
        "__module__",
        "__doc__",
        "__qualname__",
        "__firstlineno__",
        "__static_attributes__",
        "_abc_impl",  # abc's cache of registered subclasses
    }
)


class UnkeyableError(ValueError):
    """A value whose state the cache key cannot observe."""


def describe(value, name):
    """Plain data (tuples, lists, str, bytes, numbers) describing ``value``.

    ``name`` (the parameter holding ``value``) is used in error messages.
    Equal descriptions, in any process, mean equal behaviour as far as the
    key can observe it.
    """
    return _Describer(name).describe(value)


@functools.cache
def _install_dirs():
    paths = sysconfig.get_paths()
    dirs = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(str(Path(d).resolve()) for d in dirs if d)


@functools.cache
def _is_library_module(module_name):
    """Whether ``module_name`` belongs to an installed library (not user code)."""
    if not module_name:
        return False
    root = module_name.split(".")[0]
    if root == "__main__":  # a script, a notebook (whose __main__ is a launcher)
        return False
    if root in _LIBRARY_ROOTS or root in sys.stdlib_module_names:
        return True
    module = sys.modules.get(root)
    file = getattr(module, "__file__", None)
    if file is None:
        return False
    file = str(Path(file).resolve())
    if "site-packages" in file or "dist-packages" in file:
        return True
    return any(file.startswith(d + "/") for d in _install_dirs())


def _library_version(module_name):
    root = module_name.split(".")[0]
    return str(getattr(sys.modules.get(root), "__version__", ""))


def _code_names(code):
    """Global and attribute names read by ``code`` and the code nested in it."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


class _Describer:
    def __init__(self, name):
        self.name = name
        self.seen = {}  # id -> order of first visit (cycles, shared objects)
        self.alive = []  # keeps visited objects alive, so ids stay unique

    def refuse(self, value, reason):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise UnkeyableError(
            f"cache_dir cannot key the trainings: {self.name}= reaches {shown} "
            f"(a {type(value).__module__}.{type(value).__qualname__}), {reason}, "
            "so a change to it could go unseen and an outdated training be "
            "reused. Pass cache_dir=None, or give the parameter as a torch "
            "module, a class or a function of plain values."
        )

    def describe(self, value):
        if value is None or isinstance(
            value, (bool, int, float, complex, str, bytes, range, slice)
        ):
            return (type(value).__name__, value)
        if isinstance(value, np.generic):
            return ("numpy scalar", value.dtype.str, value.tobytes())
        if isinstance(value, types.ModuleType):
            return ("python module", value.__name__)
        if isinstance(value, types.CodeType):
            return self.code(value)
        if isinstance(value, (torch.dtype, torch.device, np.dtype)):
            return (type(value).__name__, str(value))
        if type(value) in (tuple, frozenset):
            # Immutable: no cycle runs through them alone, and whether two
            # equal ones are one object must not change the key.
            return self._describe_new(value)
        key = id(value)
        if key in self.seen:
            return ("seen", self.seen[key])
        self.seen[key] = len(self.seen)
        self.alive.append(value)
        return self._describe_new(value)

    def _describe_new(self, value):
        if isinstance(value, torch.Tensor):
            return self.tensor(value)
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return ("object array", value.shape, self.describe(value.tolist()))
            return ("array", value.dtype.str, value.shape, value.tobytes())
        if isinstance(value, dict):
            items = [(self.describe(k), self.describe(v)) for k, v in value.items()]
            if all(isinstance(k, str) for k in value):
                items.sort(key=lambda item: item[0][1])
            return ("dict", type(value).__qualname__, items)
        if isinstance(value, (list, tuple)):
            return (type(value).__qualname__, [self.describe(v) for v in value])
        if isinstance(value, (set, frozenset)):
            parts = [self.describe(v) for v in value]
            return ("set", sorted(parts, key=joblib.hash))
        if isinstance(value, functools.partial):
            return (
                "partial",
                self.describe(value.func),
                self.describe(value.args),
                self.describe(value.keywords),
            )
        if isinstance(value, types.FunctionType):
            return self.function(value)
        if isinstance(value, types.MethodType):
            return (
                "method",
                self.describe(value.__func__),
                self.describe(value.__self__),
            )
        if isinstance(value, (types.BuiltinFunctionType, types.BuiltinMethodType)):
            module = (
                getattr(value, "__module__", None)
                or type(getattr(value, "__self__", None)).__module__
            )
            return ("builtin", module, value.__qualname__, _library_version(module))
        if isinstance(value, (staticmethod, classmethod)):
            return (type(value).__name__, self.describe(value.__func__))
        if isinstance(value, property):
            return ("property", [self.describe(f) for f in (value.fget, value.fset)])
        if isinstance(value, (types.MemberDescriptorType, types.GetSetDescriptorType)):
            return ("slot", value.__name__)  # its value is in each instance
        if isinstance(value, type):
            return self.klass(value)
        return self.instance(value)

    def tensor(self, value):
        try:
            data = value.detach().cpu().contiguous().reshape(-1)
            raw = data.view(torch.uint8).numpy().tobytes() if data.numel() else b""
        except (RuntimeError, TypeError) as exc:  # sparse, quantized, ...
            self.refuse(value, f"a tensor whose bytes cannot be read ({exc})")
        return (
            "tensor",
            str(value.dtype),
            tuple(value.shape),
            bool(value.requires_grad),
            raw,
        )

    def code(self, code):
        consts = []
        for const in code.co_consts:
            consts.append(self.describe(const))
        return (
            "code",
            code.co_argcount,
            code.co_posonlyargcount,
            code.co_kwonlyargcount,
            code.co_flags,
            code.co_code,
            getattr(code, "co_exceptiontable", b""),
            consts,
            code.co_names,
            code.co_varnames,
            code.co_freevars,
            code.co_cellvars,
        )

    def function(self, func):
        module = getattr(func, "__module__", None)
        if _is_library_module(module):
            return ("function", module, func.__qualname__, _library_version(module))
        code = func.__code__
        names = _code_names(code)
        used_globals = []
        for name in sorted(names):
            if name in func.__globals__:
                used_globals.append(
                    (name, self.global_value(func.__globals__[name], names))
                )
        cells = []
        for cell in func.__closure__ or ():
            try:
                cells.append(self.describe(cell.cell_contents))
            except ValueError:  # an empty cell (not assigned yet)
                cells.append(("empty cell",))
        return (
            "function",
            self.code(code),
            self.describe(func.__defaults__),
            self.describe(func.__kwdefaults__),
            cells,
            used_globals,
        )

    def global_value(self, value, names):
        """A global read by some code: a user's Python module is described
        by the attributes that code may read from it (``helpers.make``)."""
        if isinstance(value, types.ModuleType) and not _is_library_module(
            value.__name__
        ):
            key = id(value)
            if key in self.seen:
                return ("seen", self.seen[key])
            self.seen[key] = len(self.seen)
            attributes = [
                (n, self.global_value(getattr(value, n), names))
                for n in sorted(names)
                if hasattr(value, n)
            ]
            return ("user module", value.__name__, attributes)
        return self.describe(value)

    def klass(self, cls):
        if _is_library_module(cls.__module__):
            return (
                "class",
                cls.__module__,
                cls.__qualname__,
                _library_version(cls.__module__),
            )
        attributes = [
            (name, self.describe(attr))
            for name, attr in sorted(vars(cls).items())
            if name not in _SKIPPED_CLASS_ATTRIBUTES
        ]
        return ("user class", [self.describe(b) for b in cls.__bases__], attributes)

    def instance(self, value):
        cls = type(value)
        state = getattr(value, "__dict__", None)
        slots = [
            s
            for c in cls.__mro__
            for s in getattr(c, "__slots__", ())
            if s != "__dict__"
        ]
        if state is not None or slots:
            slot_values = [
                (s, self.describe(getattr(value, s)))
                for s in slots
                if hasattr(value, s)
            ]
            own = self.describe(dict(state)) if state is not None else None
            return ("object", self.describe(cls), own, slot_values)
        try:
            return ("pickled", self.describe(cls), joblib.hash(value))
        except Exception as exc:
            self.refuse(value, f"which has no __dict__ and cannot be pickled ({exc})")
