library(testthat)
library(pyode)

test_check("pyode")
