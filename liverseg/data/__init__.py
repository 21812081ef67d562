"""Slice cache, patient-level splits, tf.data pipeline and joint image/mask augmentation."""
