"""The progress bar over epochs (``verbose=True``), as a training-loop callback."""

from tqdm.auto import tqdm

from .callback import TrainingCallback


class ProgressBar(TrainingCallback):
    """A tqdm bar over the epochs showing the last training and validation loss."""

    def on_train_begin(self, loop):
        self._bar = tqdm(total=loop.max_epochs, desc="epochs", leave=False)

    def on_epoch_end(self, loop, epoch, task_losses):
        postfix = {"loss": f"{loop.history.loss_curve[-1]:.4g}"}
        if loop.history.validation_curve:
            postfix["val_loss"] = f"{loop.history.validation_curve[-1]:.4g}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update()

    def on_train_end(self, loop):
        self._bar.close()
