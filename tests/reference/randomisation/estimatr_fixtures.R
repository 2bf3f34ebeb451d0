# Fixtures for trialkit.randomisation.itt, computed with R's estimatr.
# R 4.2.2, estimatr 1.0.0 (Debian r-cran-estimatr).
# Run from the repository root:
#   Rscript tests/reference/randomisation/estimatr_fixtures.R
# Input: estimatr_data.csv, estimatr_pairs.csv (written by make_data.py).
# Output: estimatr_fixtures.csv (case, term, estimate, std_error, df).
suppressPackageStartupMessages(library(estimatr))
here <- "tests/reference/randomisation"
d <- read.csv(file.path(here, "estimatr_data.csv"), stringsAsFactors = FALSE)
p <- read.csv(file.path(here, "estimatr_pairs.csv"))
d$w_ipw <- 1 / d$p_ipw
rows <- list()
add <- function(case, fit, terms) {
  for (term in terms) {
    rows[[length(rows) + 1]] <<- data.frame(
      case = case, term = term,
      estimate = unname(fit$coefficients[term]),
      std_error = unname(fit$std.error[term]),
      df = unname(fit$df[term]), stringsAsFactors = FALSE)
  }
}
dim1 <- function(case, fit) {
  rows[[length(rows) + 1]] <<- data.frame(
    case = case, term = "treatment", estimate = unname(fit$coefficients),
    std_error = unname(fit$std.error), df = unname(fit$df), stringsAsFactors = FALSE)
}
dim1("dim_standard", difference_in_means(y ~ z, data = d))
dim1("dim_blocked", difference_in_means(y ~ z, blocks = block, data = d))
dim1("dim_clustered", difference_in_means(y_cl ~ z_cl, clusters = cluster, data = d))
dim1("dim_block_clustered", difference_in_means(y_cl ~ z_cl, blocks = block, clusters = cluster, data = d))
dim1("dim_pairs", difference_in_means(yp ~ zp, blocks = pair, data = p))
dim1("dim_ipw", difference_in_means(y_ipw ~ z_ipw, weights = w_ipw, data = d))
d3 <- subset(d, arm3 %in% c("control", "a"))
dim1("dim_arm3_a", difference_in_means(y_arm3 ~ arm3, data = d3, condition1 = "control", condition2 = "a"))
add("lin", lm_lin(y ~ z, covariates = ~ x1 + x2, data = d), "z")
add("lin_clustered", lm_lin(y_cl ~ z_cl, covariates = ~ x1 + x2, clusters = cluster, data = d), "z_cl")
d$arm3f <- factor(d$arm3, levels = c("control", "a", "b"))
add("lin_arm3", lm_lin(y_arm3 ~ arm3f, covariates = ~ x1 + x2, data = d), c("arm3fa", "arm3fb"))
d$blockf <- factor(d$block)
add("lin_blocks", lm_lin(y ~ z, covariates = ~ x1 + blockf, data = d), "z")
add("cr2_multi", lm_robust(y_cl ~ z_cl + x1 + x2, clusters = cluster, data = d), c("z_cl", "x1", "x2"))
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "estimatr_fixtures.csv"), row.names = FALSE)
print(out, digits = 10)
