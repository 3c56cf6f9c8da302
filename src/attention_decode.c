/* attention_decode: being written. */
