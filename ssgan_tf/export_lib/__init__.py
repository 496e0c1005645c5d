"""Pieces of `ssgan_tf.export`: the tf.Modules written as the generator and discriminator-encoder
SavedModels (`modules`)."""
