# Fixtures for trialkit.randomisation.itt with inverse-probability weights and clusters
# (CR2), and Lin's estimator with weights (HC2), computed with R's estimatr.
# R 4.2.2, estimatr 1.0.0 (Debian r-cran-estimatr).
# Run from the repository root:
#   Rscript tests/reference/randomisation/estimatr_ipw_clusters.R
# Input: estimatr_ipw_clusters_data.csv (written by make_ipw_cluster_data.py).
# Output: estimatr_ipw_clusters.csv (case, term, estimate, std_error, df).
suppressPackageStartupMessages(library(estimatr))
here <- "tests/reference/randomisation"
d <- read.csv(file.path(here, "estimatr_ipw_clusters_data.csv"), stringsAsFactors = FALSE)
d$w <- 1 / d$p_arm
rows <- list()
add <- function(case, fit, term) {
  rows[[length(rows) + 1]] <<- data.frame(
    case = case, term = term,
    estimate = unname(fit$coefficients[term]),
    std_error = unname(fit$std.error[term]),
    df = unname(fit$df[term]), stringsAsFactors = FALSE)
}
add("ipw_cr2", lm_robust(y ~ z, weights = w, clusters = municipality, se_type = "CR2", data = d), "z")
add("lin_ipw_cr2", lm_lin(y ~ z, covariates = ~ x1, weights = w, clusters = municipality,
                          se_type = "CR2", data = d), "z")
# no clusters: weighted HC2 (lm_lin centres the covariates at their weighted means)
add("lin_ipw_hc2", lm_lin(y ~ z, covariates = ~ x1, weights = w, data = d), "z")
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "estimatr_ipw_clusters.csv"), row.names = FALSE)
print(out, digits = 10)
