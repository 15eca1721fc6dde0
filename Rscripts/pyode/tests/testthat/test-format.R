test_that("the formatters print numbers as the paper does and missing values as --", {
  expect_equal(format_percent(c(0.98765, NA)), c("98.77", "--"))
  expect_equal(format_percent(0.5, 1), "50.0")
  expect_equal(format_fixed(c(12345.678, NA), 1), c("12,345.7", "--"))
  expect_equal(format_fixed(99.6, 0), "100")
  expect_equal(format_count(c(10000, 1234.6, NA)), c("10,000", "1,235", "--"))
  expect_equal(
    format_significant(c(0.0123456, 0.5, 12, 123456, NA)),
    c("0.0123", "0.500", "12.0", "123,456", "--")
  )
  expect_equal(format_significant(100, 2), "100")
  expect_equal(format_significant(c(1234, 12345.6), 4), c("1234", "12,346"))
  expect_equal(format_scientific(c(1e-3, NA), 0), c("1e-03", "--"))
  expect_equal(format_scientific(0.000123), "1.23e-04")
})

test_that("format_wilson gives the accuracy with its Wilson interval from the test-set size", {
  ci <- wilson_interval(0.9, 100)
  expect_equal(format_wilson(0.9, 100), format_accuracy(0.9, ci$lower, ci$upper))
  expect_match(format_wilson(c(0.9, 0.5), 100), "^[0-9.]+ \\[[0-9.]+, [0-9.]+\\]$")
})

test_that("plain_text transliterates what pdflatex cannot typeset", {
  expect_equal(plain_text("caf\u00e9 \u2013 28\u00d728"), "cafe - 28x28")
  expect_equal(plain_text(c("MNIST", NA)), c("MNIST", NA))
})

test_that("latex_matrix writes a 2 x 2 matrix row by row", {
  m <- matrix(c(-0.1, 2, -2, -0.1), 2, byrow = TRUE)
  expect_equal(
    latex_matrix(m),
    "\\begin{pmatrix} -0.100 & 2.00 \\\\ -2.00 & -0.100 \\end{pmatrix}"
  )
  expect_error(latex_matrix(diag(3)), "2 x 2 numeric matrix")
})
