"""Correct: the GradCache authors' own functional API (the gradcache package on PyPI, Luyu Gao:
`cached` splits a model call into a no-grad pass returning leaf representations and a closure
for the second pass; `cat_input_tensor` concatenates the chunks for the loss), as its README
shows it.

expect: pass
requires: gradcache
"""

from gradcache.functional import cached, cat_input_tensor


@cached
def _embed(encoder, x):
    return encoder(x)


def grad_cache_step(encoder, x1, x2, loss_fn, chunk_size):
    if x1.shape[0] != x2.shape[0] or not chunk_size >= 1:
        raise ValueError("x1 and x2 need one batch size, chunk_size >= 1")
    reps, closures = ([], []), ([], [])
    for view, x in enumerate((x1, x2)):
        for chunk in x.split(chunk_size):
            rep, closure = _embed(encoder, chunk)
            reps[view].append(rep)
            closures[view].append(closure)
    loss = cat_input_tensor(loss_fn)(reps[0], reps[1])
    loss.backward()
    for view in (0, 1):
        for closure, rep in zip(closures[view], reps[view]):
            closure(rep)
    return loss.item()
