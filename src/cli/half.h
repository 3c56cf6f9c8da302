/* Host conversions between float and the 16-bit storage types, rounding to nearest even as
 * the device's stores do. */
#ifndef CLATTN_CLI_HALF_H
#define CLATTN_CLI_HALF_H

#include <stdint.h>

float clattn_cli_half_to_float(uint16_t h);
uint16_t clattn_cli_float_to_half(float f);
float clattn_cli_bf16_to_float(uint16_t b);
uint16_t clattn_cli_float_to_bf16(float f);

#endif /* CLATTN_CLI_HALF_H */
