"""A trained network used as a fixed part of a larger model: its weights frozen *and* always run in
inference mode (Dropout off, BatchNorm on its moving statistics), whatever mode the outer model is in.

Keras 3's `trainable = False` freezes the weights and BatchNorm, not Dropout; and a functional model
passes its own call's `training` to every nested layer and model, overriding a `training=False`
written when the graph was built. A cascade whose first level is frozen (Liu II-A, Bi 2.4, Gruber's
sequential B behind A) would then train its second level on dropout-perturbed maps that it never
sees at test time. `Frozen` is a layer whose `call` takes no `training` argument and always calls the
network with `training=False`, so nothing outside can switch it.
"""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="liverseg")
class Frozen(keras.layers.Layer):
    """`Frozen(network, name=...)(x)` = `network(x, training=False)`, with `network`'s weights
    non-trainable. `get_layer` reaches into the network (as on a nested model), and the layer's
    weights are the network's in the network's order, so weights copy between the two both ways."""

    def __init__(self, network: keras.Model, **kwargs):
        kwargs.setdefault("name", network.name)
        super().__init__(**kwargs)
        self.network = network
        self.network.trainable = False
        self.trainable = False

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        return self.network(inputs, training=False)

    def compute_output_spec(self, inputs):
        return self.network.compute_output_spec(inputs)

    def get_layer(self, name: str):
        return self.network.get_layer(name)

    @property
    def trainable(self):
        return False

    @trainable.setter
    def trainable(self, value):
        # stays frozen: `model.trainable = True` on the outer model must not unfreeze it
        keras.layers.Layer.trainable.fset(self, False)

    def get_config(self):
        return {**super().get_config(), "network": keras.saving.serialize_keras_object(self.network)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        network = keras.saving.deserialize_keras_object(config.pop("network"))
        return cls(network, **config)


__all__ = ["Frozen"]
