# Tests of 'clattn heatmap --grid/--query/--image' and of weights read from a .npy file,
# included from weights_tests.cmake (which defines _qk, _w, png_check and
# clattn_weights_check). The fixtures' K has 23 keys (a 1 x 23 or 23 x 1 map);
# spatial_w.npy holds 3 queries over a 5 x 7 map; grey_u8.npy is 40 x 52, grey_f32.npy 9 x 11.

set(_sw --weights "${_npy}/spatial_w.npy")

# Computed weights, one query's row over a 23 x 1 grid: cells scaled up to 64 rows.
clattn_cli_test(cli_heatmap_grid RC 0
  ARGS heatmap ${_qk} --head 1,2 --grid 23x1 --query 5 --out "${_w}/grid.png"
  CACHE cli_run FIXTURES_REQUIRED cli_npy FIXTURES_SETUP cli_heatmap_grid
  STDOUT "wrote [^\n]*grid\\.png: heatmap of batch 1, head 2\n$" STDERR_NOT ".")
clattn_weights_check(cli_heatmap_grid_png cli_heatmap_grid
  png_check "${_w}/grid.png" 40 2048 64 2048)

# Weights from a file over a 5 x 7 grid, alone and blended over grey images of other sizes:
# the blended PNG has exactly the image's size.
clattn_cli_test(cli_heatmap_grid_file RC 0
  ARGS heatmap ${_sw} --grid 5x7 --query 2 --out "${_w}/grid_file.png"
  FIXTURES_REQUIRED cli_npy FIXTURES_SETUP cli_heatmap_grid_file
  STDOUT "wrote [^\n]*grid_file\\.png: heatmap of batch 0, head 0\n$" STDERR_NOT ".")
clattn_weights_check(cli_heatmap_grid_file_png cli_heatmap_grid_file
  png_check "${_w}/grid_file.png" 256 2048 64 2048)
clattn_cli_test(cli_heatmap_grid_blend_u8 RC 0
  ARGS heatmap ${_sw} --grid 5x7 --query 1 --image "${_npy}/grey_u8.npy" --out "${_w}/blend_u8.png"
  FIXTURES_REQUIRED cli_npy FIXTURES_SETUP cli_heatmap_grid_blend_u8 STDERR_NOT ".")
clattn_weights_check(cli_heatmap_grid_blend_u8_png cli_heatmap_grid_blend_u8
  png_check "${_w}/blend_u8.png" 52 52 40 40)
clattn_cli_test(cli_heatmap_grid_blend_f32 RC 0
  ARGS heatmap ${_qk} --grid 1x23 --query 18 --image "${_npy}/grey_f32.npy" --out "${_w}/blend_f32.png"
  CACHE cli_run FIXTURES_REQUIRED cli_npy FIXTURES_SETUP cli_heatmap_grid_blend_f32 STDERR_NOT ".")
clattn_weights_check(cli_heatmap_grid_blend_f32_png cli_heatmap_grid_blend_f32
  png_check "${_w}/blend_f32.png" 11 11 9 9)
# A (B, Hq, Sq, Skv) file drawn whole, as a matrix, when there is no --grid.
clattn_cli_test(cli_heatmap_file_matrix RC 0
  ARGS heatmap ${_sw} --out "${_w}/file_matrix.png"
  FIXTURES_REQUIRED cli_npy FIXTURES_SETUP cli_heatmap_file_matrix STDERR_NOT ".")
clattn_weights_check(cli_heatmap_file_matrix_png cli_heatmap_file_matrix
  png_check "${_w}/file_matrix.png" 256 2048 64 2048)

# clattn_heatmap_error(NAME STDERR_REGEX ARGS...): exit 2, the message, no PNG.
function(clattn_heatmap_error name stderr)
  set(_png "${_w}/${name}.png")
  clattn_cli_test(${name} RC 2 ARGS heatmap ${ARGN} --out "${_png}"
    CACHE cli_run FIXTURES_REQUIRED cli_npy STDERR "${stderr}" STDOUT_NOT "." NO_FILE "${_png}")
endfunction()
clattn_heatmap_error(cli_heatmap_grid_mismatch
  "^clattn heatmap: --grid: 4x5 has 20 positions, but the weights have 23 keys \\(H \\* W must equal Skv\\)\n$"
  ${_qk} --grid 4x5)
clattn_heatmap_error(cli_heatmap_grid_file_mismatch "--grid: 6x6 has 36 positions, but the weights have 35 keys"
  ${_sw} --grid 6x6)
clattn_heatmap_error(cli_heatmap_grid_syntax "--grid: expected HxW with integers >= 1" ${_qk} --grid 4by5)
clattn_heatmap_error(cli_heatmap_grid_zero "--grid: expected HxW" ${_qk} --grid 0x23)
clattn_heatmap_error(cli_heatmap_query_outside "--query: 19 is outside the 19 queries"
  ${_qk} --grid 1x23 --query 19)
clattn_heatmap_error(cli_heatmap_query_syntax "--query: expected an integer >= 0, got '-1'"
  ${_qk} --grid 1x23 --query -1)
clattn_heatmap_error(cli_heatmap_image_needs_grid "--image: needs --grid HxW"
  ${_sw} --image "${_npy}/grey_u8.npy")
clattn_heatmap_error(cli_heatmap_image_rank "--image: expected a grey image \\(height, width\\), got shape \\(2, 4, 19, 16\\)"
  ${_sw} --grid 5x7 --image "${_npy}/q.npy")
clattn_heatmap_error(cli_heatmap_image_range "--image: float32 pixel 5 is 1.5, outside \\[0, 1\\]"
  ${_sw} --grid 5x7 --image "${_npy}/grey_bad.npy")
clattn_heatmap_error(cli_heatmap_file_with_causal "--causal: needs --q and --k"
  ${_sw} --causal top-left)
clattn_heatmap_error(cli_heatmap_file_bad_shape "--weights: expected weights \\(B, Hq, Sq, Skv\\) or \\(Sq, Skv\\)"
  --weights "${_npy}/lens_f32.npy")
clattn_heatmap_error(cli_heatmap_file_head "--head: 0,1 is outside the 1 batches and 1 query heads"
  ${_sw} --head 0,1)
