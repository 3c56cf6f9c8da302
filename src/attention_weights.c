/* attention_weights: being written. */
