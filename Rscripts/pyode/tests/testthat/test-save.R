small_plot <- function() {
  ggplot2::ggplot(data.frame(x = 1:3, y = 1:3), ggplot2::aes(x, y)) +
    ggplot2::geom_point()
}

test_that("save_figure writes a complete PDF and PNG and no temporary file", {
  dir <- withr_tempdir()
  written <- save_figure(small_plot(), file.path(dir, "fig"), width = 3, height = 2)
  expect_equal(basename(written), c("fig.pdf", "fig.png"))
  for (path in written) expect_invisible(check_figure_file(path))
  expect_equal(sort(list.files(dir, all.files = TRUE, no.. = TRUE)), c("fig.pdf", "fig.png"))
  expect_error(save_figure("not a plot", file.path(dir, "x")), "not a ggplot")
})

test_that("truncated, empty or missing figure files are rejected, naming the file", {
  dir <- withr_tempdir()
  written <- save_figure(small_plot(), file.path(dir, "fig"), width = 3, height = 2)
  for (path in written) {
    bytes <- readBin(path, "raw", n = file.size(path))
    cut <- file.path(dir, paste0("cut.", tools::file_ext(path)))
    writeBin(bytes[seq_len(length(bytes) %/% 2)], cut)
    expect_error(check_figure_file(cut, "results/figures/x.pdf"),
      "cannot write results/figures/x.pdf: the .* written is incomplete"
    )
    file.create(cut)
    expect_error(check_figure_file(cut), "wrote an empty file")
  }
  expect_error(check_figure_file(file.path(dir, "none.png")), "wrote no file")
})

test_that("a full disk is an error naming the file and leaves nothing", {
  skip_on_os(c("windows", "mac"))
  if (Sys.info()[["user"]] != "root") skip("mounting a small tmpfs needs root")
  mount <- Sys.which("mount")
  if (!nzchar(mount)) skip("no mount command")
  dir <- withr_tempdir()
  status <- suppressWarnings(system2(mount, c("-t", "tmpfs", "-o", "size=12k", "tmpfs", dir),
    stdout = FALSE, stderr = FALSE
  ))
  if (status != 0) skip("cannot mount a tmpfs here (no privilege in this container)")
  # lazy unmount: R's pdf device keeps the file of a failed write open
  on.exit(system2("umount", c("-l", dir)), add = TRUE, after = FALSE)
  big <- ggplot2::ggplot(data.frame(x = stats::runif(3000), y = stats::runif(3000))) +
    ggplot2::geom_point(ggplot2::aes(x, y))
  expect_error(
    save_figure(big, file.path(dir, "fig"), width = 6, height = 6),
    paste0("cannot write ", dir, "/fig.p(df|ng)")
  )
  expect_equal(list.files(dir, all.files = TRUE, no.. = TRUE), character())
})
