"""LLVM-level building blocks of the Dice kernels (numba intrinsics).

``dice8`` scores one left row against eight right rows at once, in one of two layouts of the right
side:

- *groups* (a 3-d array ``(m / 8, nwords, 8)``: word ``w`` of eight consecutive rows side by side):
  one vector load brings word ``w`` of all eight rows, it is ANDed with the left word broadcast,
  popcounted (``vpopcntq`` where the CPU has AVX-512 VPOPCNTDQ; LLVM lowers the same IR to AVX2 or
  scalar ``popcnt`` elsewhere) and accumulated, so lane r ends up holding pair r's count with no
  horizontal sums at all. The full comparison copies the right side into this layout once.
- *rows* (a 2-d array, rows gathered through an index, for blocks): vectors of eight words of
  one row, then a three-level shuffle tree reduces the eight per-pair vectors.

The eight scores are tested against the threshold first without division (``2c >= t·den`` with a
relative slack of 1e-12, a strict superset of the exact test); only when a lane may pass are the
scores divided, as one vector. IEEE division is correctly rounded in vector and scalar form alike,
so every score is bit-identical to anonlink's ``2 * |a & b| / (|a| + |b|)`` in float64.

Note for developers: numba's on-disk cache of a kernel tracks only the kernel's own source file.
After editing this module, touch the modules whose kernels use it (``_kernels.py``, and
``pprl.block._kernels`` for ``popcnt64``) so that their cached machine code is rebuilt.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

LANES = 8
_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_VI64 = ir.VectorType(_I64, LANES)
_VI32 = ir.VectorType(_I32, LANES)
_VF64 = ir.VectorType(ir.DoubleType(), LANES)

# Shuffle masks of the reduction tree: each level halves the number of vectors, summing lane pairs.
_LEVELS = (
    ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]),
    ([0, 1, 4, 5, 8, 9, 12, 13], [2, 3, 6, 7, 10, 11, 14, 15]),
    ([0, 2, 4, 6, 8, 10, 12, 14], [1, 3, 5, 7, 9, 11, 13, 15]),
)


@intrinsic
def popcnt64(typingctx, x):
    """Set bits of one uint64 (``llvm.ctpop``)."""
    if not isinstance(x, types.Integer):
        raise TypingError("popcnt64 takes an integer")
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[0], x, types.uint64)
        return builder.ctpop(value)

    return sig, codegen


def _is_rows(t) -> bool:
    return isinstance(t, types.Array) and t.ndim == 2 and t.dtype == types.uint64 and t.layout == "C"


def _is_vector(t, dtype) -> bool:
    return isinstance(t, types.Array) and t.ndim == 1 and t.dtype == dtype and t.layout == "C"


def _call(builder, name: str, ret, arg_types, args):
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, arg_types), name)
    return builder.call(fn, args)


def _splat(builder, value, vtype):
    undef = ir.Constant(vtype, ir.Undefined)
    first = builder.insert_element(undef, value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(first, undef, ir.Constant(_VI32, [0] * LANES))


def _byte_ptr(builder, data, index, stride):
    base = builder.bitcast(data, _I8.as_pointer())
    return builder.gep(base, [builder.mul(index, stride)])


def _reduce8(builder, vectors):
    """Eight <8 x i64> vectors -> one vector whose lane r is the sum of vector r's lanes."""
    for lo, hi in _LEVELS:
        lo_mask = ir.Constant(_VI32, lo)
        hi_mask = ir.Constant(_VI32, hi)
        vectors = [
            builder.add(
                builder.shuffle_vector(vectors[k], vectors[k + 1], lo_mask),
                builder.shuffle_vector(vectors[k], vectors[k + 1], hi_mask),
            )
            for k in range(0, len(vectors), 2)
        ]
    return vectors[0]


def _and_popcounts(builder, row_a, rows_b, nwords):
    """<8 x i64>: popcount(row_a & rows_b[r]) in lane r, over ``nwords`` uint64 words."""
    nvec = builder.udiv(nwords, ir.Constant(_I64, LANES))
    vptr = _VI64.as_pointer()
    a_vec = builder.bitcast(row_a, vptr)
    b_vec = [builder.bitcast(p, vptr) for p in rows_b]
    accs = [cgutils.alloca_once_value(builder, ir.Constant(_VI64, None)) for _ in range(LANES)]
    with cgutils.for_range(builder, nvec) as loop:
        x = builder.load(builder.gep(a_vec, [loop.index]), align=8)
        for r in range(LANES):
            y = builder.load(builder.gep(b_vec[r], [loop.index]), align=8)
            pc = _call(builder, "llvm.ctpop.v8i64", _VI64, [_VI64], [builder.and_(x, y)])
            builder.store(builder.add(builder.load(accs[r]), pc), accs[r])
    total = cgutils.alloca_once_value(builder, _reduce8(builder, [builder.load(a) for a in accs]))
    # Words beyond the last full vector: one word of each of the eight rows per step.
    wptr = _I64.as_pointer()
    a_words = builder.bitcast(row_a, wptr)
    b_words = [builder.bitcast(p, wptr) for p in rows_b]
    start = builder.mul(nvec, ir.Constant(_I64, LANES))
    step = ir.Constant(_I64, 1)
    with cgutils.for_range_slice(builder, start, nwords, step) as (w, _):
        x = _splat(builder, builder.load(builder.gep(a_words, [w]), align=8), _VI64)
        y = ir.Constant(_VI64, ir.Undefined)
        for r in range(LANES):
            word = builder.load(builder.gep(b_words[r], [w]), align=8)
            y = builder.insert_element(y, word, ir.Constant(_I32, r))
        pc = _call(builder, "llvm.ctpop.v8i64", _VI64, [_VI64], [builder.and_(x, y)])
        builder.store(builder.add(builder.load(total), pc), total)
    return builder.load(total)


def _groups_popcounts(builder, row_a, group, nwords):
    """<8 x i64>: popcount(row_a & row r of the group) in lane r (word-interleaved group)."""
    a_words = builder.bitcast(row_a, _I64.as_pointer())
    b_vec = builder.bitcast(group, _VI64.as_pointer())
    acc = cgutils.alloca_once_value(builder, ir.Constant(_VI64, None))
    with cgutils.for_range(builder, nwords) as loop:
        x = _splat(builder, builder.load(builder.gep(a_words, [loop.index]), align=8), _VI64)
        y = builder.load(builder.gep(b_vec, [loop.index]), align=8)
        pc = _call(builder, "llvm.ctpop.v8i64", _VI64, [_VI64], [builder.and_(x, y)])
        builder.store(builder.add(builder.load(acc), pc), acc)
    return builder.load(acc)


def _scores_mask(builder, common, q_ptr, p, threshold, out_ptr):
    """Bit mask of lanes with 2c / (p + q) >= threshold; scores stored to ``out`` when any may."""
    den = builder.add(builder.sext(builder.load(q_ptr, align=4), _VI64), _splat(builder, p, _VI64))
    one = ir.Constant(_VI64, [1] * LANES)
    # Two empty filters: 0 / 0 becomes 0 / 1 = 0.0 (anonlink's convention).
    den = builder.sitofp(builder.select(builder.icmp_signed("<", den, one), one, den), _VF64)
    num = builder.sitofp(builder.shl(common, one), _VF64)
    t = _splat(builder, threshold, _VF64)
    loose = builder.fmul(t, ir.Constant(_VF64, [1.0 - 1e-12] * LANES))
    maybe = builder.fcmp_ordered(">=", num, builder.fmul(loose, den))
    any_maybe = builder.icmp_unsigned("!=", builder.bitcast(maybe, _I8), ir.Constant(_I8, 0))
    mask = cgutils.alloca_once_value(builder, ir.Constant(_I64, 0))
    with builder.if_then(any_maybe, likely=False):
        score = builder.fdiv(num, den)
        builder.store(score, builder.bitcast(out_ptr, _VF64.as_pointer()), align=8)
        hit = builder.fcmp_ordered(">=", score, t)
        builder.store(builder.zext(builder.bitcast(hit, _I8), _I64), mask)
    return builder.load(mask)


@intrinsic
def dice8(typingctx, left, u, right, index, v, last, p, q, threshold, out):
    """Dice of left row ``u`` against the right rows at positions ``v .. v+7``; a bit mask.

    ``right`` is either 2-d rows, read at ``index[v + r]`` for positions up to ``last`` only
    (lanes beyond repeat it: no needless cache misses at the end of a small block), or 3-d
    groups ``(m / 8, nwords, 8)`` (``index`` None, ``v`` a multiple of 8, one group read whole).
    ``q[v + r]`` (int32) is the popcount of the right row at position ``v + r`` and ``p`` that of
    the left row. Bit r of the result is set when score r >= ``threshold``; whenever the result
    is not zero the eight scores are in ``out[0:8]``. Lanes past ``last`` mean nothing (the
    caller drops them). The caller guarantees that positions ``v .. v+7`` exist (padding).
    """
    grouped = isinstance(right, types.Array) and right.ndim == 3
    if not (_is_rows(left) and (_is_rows(right) or (grouped and right.layout == "C"
                                                    and right.dtype == types.uint64))):
        raise TypingError("dice8: left must be 2-d and right 2-d or 3-d C-contiguous uint64")
    if grouped != isinstance(index, types.NoneType) or not (
            grouped or _is_vector(index, types.int64)):
        raise TypingError("dice8: index must be None for 3-d groups, a 1-d int64 array for rows")
    if not (_is_vector(q, types.int32) and _is_vector(out, types.float64)):
        raise TypingError("dice8: q must be int32 and out float64 1-d arrays")
    sig = types.int64(left, types.int64, right, index, types.int64, types.int64, types.int64, q,
                      types.float64, out)

    def codegen(context, builder, signature, args):
        lty, _, rty, ity, _, _, _, qty, _, oty = signature.args
        larr, u_, rarr, iarr, v_, last_, p_, qarr, t_, oarr = args
        lview = context.make_array(lty)(context, builder, larr)
        rview = context.make_array(rty)(context, builder, rarr)
        row_a = _byte_ptr(builder, lview.data, u_, builder.extract_value(lview.strides, 0))
        rstride = builder.extract_value(rview.strides, 0)
        nwords = builder.extract_value(lview.shape, 1)
        if grouped:
            group = builder.udiv(v_, ir.Constant(_I64, LANES))
            common = _groups_popcounts(builder, row_a, _byte_ptr(builder, rview.data, group,
                                                                 rstride), nwords)
        else:
            iview = context.make_array(ity)(context, builder, iarr)
            rows_b = []
            for r in range(LANES):
                pos = builder.add(v_, ir.Constant(_I64, r))
                pos = builder.select(builder.icmp_signed(">", pos, last_), last_, pos)
                row = builder.load(builder.gep(iview.data, [pos]))
                rows_b.append(_byte_ptr(builder, rview.data, row, rstride))
            common = _and_popcounts(builder, row_a, rows_b, nwords)
        qview = context.make_array(qty)(context, builder, qarr)
        q_ptr = builder.bitcast(builder.gep(qview.data, [v_]), _VI32.as_pointer())
        oview = context.make_array(oty)(context, builder, oarr)
        return _scores_mask(builder, common, q_ptr, p_, t_, oview.data)

    return sig, codegen
