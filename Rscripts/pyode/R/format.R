# Numbers and texts as the paper prints them: one formatter per kind of number, each printing a
# missing value as "--".

na_dash <- function(x, text) dplyr::if_else(is.na(x), "--", text)

#' Numbers as the paper prints them
#'
#' `format_percent()` prints proportions as percentages with fixed decimals, `format_fixed()`
#' numbers with fixed decimals and thousands separators, `format_count()` whole numbers with
#' thousands separators, `format_significant()` numbers with `digits` significant digits (whole
#' numbers from `10^digits` on), `format_scientific()` numbers in scientific notation. Every
#' formatter prints a missing value as `"--"`.
#'
#' @param x Numbers (proportions for `format_percent()`).
#' @param digits Decimals (`format_percent()`, `format_fixed()`, `format_scientific()`) or
#'   significant digits (`format_significant()`).
#' @return A character vector as long as `x`.
#' @examples
#' format_percent(0.98765)
#' format_fixed(12345.678, 1)
#' format_count(c(10000, NA))
#' format_significant(c(0.0123456, 123456))
#' format_scientific(1e-3, 0)
#' @name paper_format
NULL

#' @rdname paper_format
#' @export
format_percent <- function(x, digits = 2) {
  na_dash(x, formatC(100 * as.numeric(x), format = "f", digits = digits))
}

#' @rdname paper_format
#' @export
format_fixed <- function(x, digits = 1) {
  na_dash(x, formatC(as.numeric(x), format = "f", digits = digits, big.mark = ","))
}

#' @rdname paper_format
#' @export
format_count <- function(x) {
  na_dash(x, formatC(round(as.numeric(x)), format = "d", big.mark = ","))
}

#' @rdname paper_format
#' @export
format_significant <- function(x, digits = 3) {
  x <- as.numeric(x)
  text <- vapply(x, function(v) {
    if (is.na(v)) {
      "--"
    } else if (abs(v) >= 10^digits) {
      formatC(round(v), format = "d", big.mark = ",")
    } else {
      # "#" keeps trailing zeros (0.500); a bare trailing point (12.) is dropped.
      sub("\\.$", "", formatC(v, digits = digits, format = "g", flag = "#"))
    }
  }, character(1))
  unname(text)
}

#' @rdname paper_format
#' @export
format_scientific <- function(x, digits = 2) {
  na_dash(x, formatC(as.numeric(x), digits = digits, format = "e"))
}

#' Text that pdflatex can typeset
#'
#' pdflatex knows only a part of Unicode: texts written by Python (data descriptions, device
#' names) are transliterated to ASCII, with `?` for what has no transliteration.
#'
#' @param x Texts.
#' @return ASCII texts.
#' @examples
#' plain_text("10\u2009000 images \u2013 28\u00d728")
#' @export
plain_text <- function(x) {
  iconv(as.character(x), from = "UTF-8", to = "ASCII//TRANSLIT", sub = "?")
}

#' A 2 x 2 matrix in LaTeX
#'
#' @param m A 2 x 2 numeric matrix (or a list of two rows, as JSON reads one).
#' @param digits Significant digits of the entries ([format_significant()]).
#' @return The LaTeX `pmatrix` of `m`, for a display formula.
#' @examples
#' latex_matrix(matrix(c(-0.1, -2, 2, -0.1), 2))
#' @export
latex_matrix <- function(m, digits = 3) {
  m <- as.matrix(m)
  if (!is.numeric(m) || !identical(dim(m), c(2L, 2L))) {
    fail("latex_matrix: 'm' must be a 2 x 2 numeric matrix")
  }
  e <- format_significant(m, digits)
  sprintf("\\begin{pmatrix} %s & %s \\\\ %s & %s \\end{pmatrix}", e[1], e[3], e[2], e[4])
}

#' An accuracy with its Wilson interval, in percent
#'
#' @param accuracy Accuracies (proportions).
#' @param n The test-set size they were measured on.
#' @return Text as [format_accuracy()] writes it, with the 95 % Wilson interval
#'   ([wilson_interval()]) from `n`.
#' @examples
#' format_wilson(0.9, 100)
#' @export
format_wilson <- function(accuracy, n) {
  ci <- wilson_interval(accuracy, n)
  format_accuracy(ci$estimate, ci$lower, ci$upper)
}
