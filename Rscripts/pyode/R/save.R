# Saving figures: drawn to temporary files, verified complete, then renamed into place.

png_signature <- as.raw(c(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a))
png_iend <- as.raw(c(0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82))

read_bytes <- function(path, n, from_end = FALSE) {
  size <- file.size(path)
  con <- file(path, "rb")
  on.exit(close(con))
  if (from_end) {
    seek(con, max(0, size - n))
  }
  readBin(con, "raw", n = n)
}

#' Check that a figure file was written completely
#'
#' A PDF must start with `%PDF` and end with `%%EOF`; a PNG must start with the PNG signature and
#' end with the `IEND` chunk. Graphics devices do not report a failed write (a full disk leaves a
#' truncated file), so [save_figure()] checks every file before installing it.
#'
#' @param path The file.
#' @param target The file name to report (the final name of a temporary file).
#' @return `path`, invisibly; an error naming `target` and the problem otherwise.
#' @export
check_figure_file <- function(path, target = path) {
  type <- tolower(tools::file_ext(target))
  size <- if (file.exists(path)) file.size(path) else NA
  if (is.na(size)) {
    fail("cannot write %s: the graphics device wrote no file", target)
  }
  if (size == 0) {
    fail("cannot write %s: the graphics device wrote an empty file (is the disk full?)", target)
  }
  complete <- switch(type,
    pdf = {
      head <- rawToChar(read_bytes(path, 5))
      tail <- rawToChar(read_bytes(path, 64, from_end = TRUE)[
        read_bytes(path, 64, from_end = TRUE) != as.raw(0)
      ])
      identical(head, "%PDF-") && grepl("%%EOF[[:space:]]*$", tail)
    },
    png = {
      identical(read_bytes(path, 8), png_signature) &&
        identical(read_bytes(path, 8, from_end = TRUE), png_iend)
    },
    fail("cannot check %s: not a .pdf or .png file", target)
  )
  if (!complete) {
    fail(
      "cannot write %s: the %s written is incomplete (%d bytes; is the disk full?)",
      target, toupper(type), as.integer(size)
    )
  }
  invisible(path)
}

#' Save a figure as PDF and PNG
#'
#' Writes `stem.pdf` and `stem.png`. Both are drawn to temporary files in the target folder,
#' checked with [check_figure_file()] and renamed only when both are complete, so a failure
#' (e.g. a full disk) is an error naming the file and leaves neither file behind.
#'
#' @param plot A ggplot.
#' @param stem Output path without extension.
#' @param width,height Size in inches; see [figure_size()].
#' @param dpi Resolution of the PNG.
#' @return The two paths written, invisibly.
#' @export
save_figure <- function(plot, stem, width = 7, height = 4, dpi = 200) {
  if (!inherits(plot, "ggplot")) {
    fail("save_figure: 'plot' is not a ggplot")
  }
  out_dir <- dirname(stem)
  dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
  if (!dir.exists(out_dir)) {
    fail("cannot create output folder %s", out_dir)
  }
  targets <- paste0(stem, c(".pdf", ".png"))
  tag <- paste0(".", basename(stem), ".", Sys.getpid(), ".", sample.int(1e6, 1), ".tmp")
  temps <- file.path(out_dir, paste0(tag, c(".pdf", ".png")))
  on.exit(unlink(temps[file.exists(temps)]), add = TRUE)
  draw <- function(file, device, ...) {
    tryCatch(
      ggplot2::ggsave(file, plot,
        width = width, height = height, units = "in", device = device, ...
      ),
      error = function(e) {
        fail("cannot write %s: %s", targets[[match(file, temps)]], conditionMessage(e))
      }
    )
  }
  draw(temps[[1]], "pdf")
  # png() uses getOption("bitmapType"): cairo where R has it, which needs no X11 display.
  draw(temps[[2]], "png", dpi = dpi)
  for (i in seq_along(targets)) check_figure_file(temps[[i]], targets[[i]])
  for (i in seq_along(targets)) {
    if (!file.rename(temps[[i]], targets[[i]])) {
      unlink(targets[seq_len(i - 1)])
      fail("cannot write %s: renaming the temporary file failed", targets[[i]])
    }
  }
  invisible(targets)
}
