"""Training code of the demo model (`qvl_widget.demo`): kept out of the installed package, run from a checkout.

    .venv/bin/python -m training.train --device cuda --out demo-model/ --minutes 6 --seed 0
    bash training/demo2_gpu.sh --minutes 8   # issue DEMO2: --tasks demo2 into $OUT/demo2-model, then its gate

`_model.py` builds the demo's word tokenizer, processor and config; `_tensors.py` builds batched model inputs as
tensors; `_fast.py` is the batched training forward; `train.py` is the script. Scenes come from
`qvl_widget.demo._scenes`, the pointing recipe search and the evaluation from `qvl_widget.demo`. `demo2_gpu.sh` is
the one prepared GPU command of issue DEMO2 (see its header and train.py's docstring).
"""
