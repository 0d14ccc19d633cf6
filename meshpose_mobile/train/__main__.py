"""``python -m meshpose_mobile.train`` = ``meshpose-train`` (what torchrun runs)."""

from meshpose_mobile.train.cli import train_main

if __name__ == "__main__":
    train_main()
