# Render the R Markdown paper to PDF with the installed R package pyode.
# Usage: Rscript --vanilla render_paper.R PAPER.Rmd OUTPUT.pdf RESULTS_DIR PROVENANCE.json SCRATCH_DIR
#          [PACKAGE_SOURCE]
# With PACKAGE_SOURCE (the package's source folder, Rscripts/pyode) the installed package must be
# that source: a stale installed copy is an error, not a paper drawn with old code.
# The PDF is rendered into a private folder under SCRATCH_DIR and renamed into place, so a failed or
# interrupted render never leaves a partial paper behind.
render_paper <- function(rmd, output, results, provenance, scratch) {
  rmd <- normalizePath(rmd, mustWork = TRUE)
  output <- file.path(normalizePath(dirname(output), mustWork = FALSE), basename(output))
  dir.create(scratch, recursive = TRUE, showWarnings = FALSE)
  work <- tempfile("render-", tmpdir = normalizePath(scratch))
  dir.create(file.path(work, "intermediates"), recursive = TRUE)
  on.exit(unlink(work, recursive = TRUE), add = TRUE)
  # Absolute paths, resolved now: render() evaluates its arguments lazily, after it has moved
  # into the folder of the Rmd file, where relative paths would point elsewhere.
  paper_params <- list(
    results = normalizePath(results, mustWork = TRUE),
    provenance = normalizePath(provenance, mustWork = TRUE)
  )
  root <- getwd()

  rendered <- rmarkdown::render(
    rmd,
    output_format = "pdf_document",
    output_file = basename(output),
    output_dir = work,
    intermediates_dir = file.path(work, "intermediates"),
    knit_root_dir = root,
    params = paper_params,
    envir = new.env(parent = globalenv()),
    quiet = TRUE
  )
  dir.create(dirname(output), recursive = TRUE, showWarnings = FALSE)
  if (!file.rename(rendered, output)) {
    stop("could not move the rendered paper to ", output, call. = FALSE)
  }
  message("wrote ", output)
}

args <- commandArgs(trailingOnly = TRUE)
if (!length(args) %in% c(5, 6)) {
  stop("usage: render_paper.R PAPER.Rmd OUTPUT.pdf RESULTS_DIR PROVENANCE.json SCRATCH_DIR",
       " [PACKAGE_SOURCE]", call. = FALSE)
}
if (length(args) == 6) {
  pyode::check_installed(args[[6]])
}
render_paper(args[[1]], args[[2]], args[[3]], args[[4]], args[[5]])
