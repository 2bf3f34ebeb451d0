# Reference fixtures for trialkit.matching, made on the LaLonde / Dehejia-Wahba NSW data
# with the PSID comparison group (185 treated, 429 controls) as shipped by MatchIt (`lalonde`).
#
# Made with: R 4.2.2; MatchIt 4.5.5 built from upstream source (see build_matchit.sh: Debian's
# r-cran-matchit 4.5.1 truncates nearest-neighbour distances below 1 to 0 and must not be
# used); Matching 4.10.8 (Debian r-cran-matching 4.10-8-1); sandwich 3.0.2 (Debian).
#
# Run (from this directory):  sh build_matchit.sh && R_LIBS=/tmp/rlib Rscript make_fixtures.R
#
# Output (all committed; the tests read them, CI does not need R):
#   lalonde.csv          the data, with id (row number), u74/u75 (= re74/re75 == 0: unemployed
#                        in that year -- "prior unemployment") and score_ai (see below)
#   matchit_units.csv    case, id, weight, subclass, distance: MatchIt's weights and subclasses
#   matchit_pairs.csv    case, treated_id, control_id, slot: MatchIt's match.matrix
#   matchit_balance.csv  case, stage (all/matched), term, mean_treated, mean_control, smd,
#                        var_ratio, ecdf_mean, ecdf_max from summary(m, standardize = TRUE)
#   matchit_nn.csv       case, group, n_all, n_matched, ess_matched, n_unmatched, n_discarded
#   matchit_effects.csv  case, method, estimate, se: ATT on re78 from lm() on match.data() with
#                        vcovCL(cluster = ~subclass, type = "HC1") or vcovHC(type = "HC1")
#   matching_ai.csv      M, var_calc, sample, estimate, se, se_standard: Matching::Match ATT
#                        with replacement on score_ai and its Abadie-Imbens standard error
suppressMessages({
  library(MatchIt)
  library(Matching)
  library(sandwich)
})
stopifnot(packageVersion("MatchIt") >= "4.5.4")

data("lalonde", package = "MatchIt")
d <- lalonde
d$id <- seq_len(nrow(d))
rownames(d) <- as.character(d$id)
d$u74 <- as.integer(d$re74 == 0)
d$u75 <- as.integer(d$re75 == 0)

covs <- c("age", "educ", "race", "married", "nodegree", "re74", "re75")
f <- reformulate(covs, response = "treat")

cases <- list(
  nn_glm       = list(method = "nearest"),
  nn_glm_cal   = list(method = "nearest", caliper = 0.2),
  nn_logit_cal = list(method = "nearest", distance = "glm", link = "linear.logit", caliper = 0.2),
  nn_exact_cal = list(method = "nearest", link = "linear.logit", caliper = 0.25,
                      exact = ~ u74 + u75),
  nn_ratio2    = list(method = "nearest", link = "linear.logit", ratio = 2),
  nn_ratio3_cal = list(method = "nearest", link = "linear.logit", ratio = 3, caliper = 0.3),
  nn_probit_cal = list(method = "nearest", link = "probit", caliper = 0.2),
  nn_exact_ratio2 = list(method = "nearest", link = "linear.logit", exact = ~u75, ratio = 2,
                         caliper = 0.3),
  nn_mahal     = list(method = "nearest", distance = "mahalanobis",
                      formula = treat ~ age + educ + married + nodegree + re74 + re75),
  nn_discard   = list(method = "nearest", link = "linear.logit", discard = "both", caliper = 0.1),
  nn_repl      = list(method = "nearest", link = "linear.logit", replace = TRUE),
  nn_repl3_cal = list(method = "nearest", link = "linear.logit", replace = TRUE, ratio = 3,
                      caliper = 0.2),
  cem          = list(method = "cem"),
  cem_cuts     = list(method = "cem",
                      cutpoints = list(age = c(25, 35), educ = c(9, 12), re74 = c(1, 10000),
                                       re75 = c(1, 10000))),
  exact        = list(method = "exact", formula = treat ~ race + married + nodegree + u74 + u75)
)

units <- list(); pairs <- list(); bal <- list(); nns <- list(); effs <- list()
for (nm in names(cases)) {
  args <- cases[[nm]]
  form <- if (!is.null(args$formula)) args$formula else f
  args$formula <- NULL
  m <- do.call(matchit, c(list(formula = form, data = d), args))
  sub <- if (is.null(m$subclass)) rep(NA_integer_, nrow(d)) else as.integer(m$subclass)
  dist <- if (is.null(m$distance)) rep(NA_real_, nrow(d)) else as.numeric(m$distance)
  units[[nm]] <- data.frame(case = nm, id = d$id, weight = m$weights, subclass = sub,
                            distance = dist)
  if (!is.null(m$match.matrix)) {
    mm <- m$match.matrix
    for (s in seq_len(ncol(mm))) {
      ok <- !is.na(mm[, s])
      pairs[[paste(nm, s)]] <- data.frame(case = nm, treated_id = as.integer(rownames(mm)[ok]),
                                          control_id = as.integer(mm[ok, s]), slot = s)
    }
  }
  sm <- summary(m, standardize = TRUE, addlvariables = NULL)
  for (stage in c("all", "matched")) {
    tab <- if (stage == "all") sm$sum.all else sm$sum.matched
    bal[[paste(nm, stage)]] <- data.frame(
      case = nm, stage = stage, term = rownames(tab),
      mean_treated = tab[, "Means Treated"], mean_control = tab[, "Means Control"],
      smd = tab[, "Std. Mean Diff."], var_ratio = tab[, "Var. Ratio"],
      ecdf_mean = tab[, "eCDF Mean"], ecdf_max = tab[, "eCDF Max"])
  }
  nn <- sm$nn
  nns[[nm]] <- data.frame(case = nm, group = c("control", "treated"),
                          n_all = nn["All", ], n_matched = nn["Matched", ],
                          ess_matched = nn["Matched (ESS)", ], n_unmatched = nn["Unmatched", ],
                          n_discarded = nn["Discarded", ])

  md <- match.data(m, drop.unmatched = TRUE)
  fit <- lm(re78 ~ treat, data = md, weights = weights)
  has_sub <- !is.null(m$subclass)
  # treated-mean-centred covariates for the regression-adjusted ATT (Lin-type, for the ATT)
  X <- model.matrix(~ age + educ + race + married + nodegree + re74 + re75, data = md)[, -1]
  tr <- md$treat == 1
  Xc <- sweep(X, 2, colSums(X[tr, , drop = FALSE] * md$weights[tr]) / sum(md$weights[tr]))
  colnames(Xc) <- paste0("x", seq_len(ncol(Xc)))
  md2 <- cbind(md, Xc)
  fra <- as.formula(paste("re78 ~ treat * (", paste(colnames(Xc), collapse = " + "), ")"))
  fit_ra <- lm(fra, data = md2, weights = weights)
  for (meth in c("difference", "regression")) {
    ft <- if (meth == "difference") fit else fit_ra
    if (has_sub) {
      V <- vcovCL(ft, cluster = ~subclass, type = "HC1")
      sek <- "subclass"
    } else {
      V <- vcovHC(ft, type = "HC1")
      sek <- "robust"
    }
    effs[[paste(nm, meth)]] <- data.frame(case = nm, method = meth, se_type = sek,
                                          estimate = unname(coef(ft)["treat"]),
                                          se = sqrt(V["treat", "treat"]),
                                          n = nrow(md))
  }
}

# Abadie-Imbens standard errors for matching with replacement (Matching package).
# score_ai: the logit propensity score plus a tiny deterministic offset (id * 1e-4) so that no
# two units tie; distance.tolerance = 1e-14 because Matching compares *squared* distances with
# it (the default 1e-5 would declare scores 0.003 apart tied).
ps <- glm(f, data = d, family = binomial())
d$score_ai <- as.numeric(predict(ps, type = "link")) + d$id * 1e-4
ai <- list()
for (M in c(1L, 3L)) for (vc in c(1L, 2L)) for (smp in c(FALSE, TRUE)) {
  r <- Match(Y = d$re78, Tr = d$treat, X = d$score_ai, estimand = "ATT", M = M,
             replace = TRUE, ties = TRUE, Var.calc = vc, sample = smp, distance.tolerance = 1e-14,
             version = "standard")
  stopifnot(length(r$index.control) == M * sum(d$treat))
  ai[[paste(M, vc, smp)]] <- data.frame(M = M, var_calc = vc, sample = smp, estimate = r$est[1, 1],
                                        se = r$se, se_standard = if (is.null(r$se.standard)) NA_real_ else r$se.standard)
}

write.csv(d[, c("id", "treat", "age", "educ", "race", "married", "nodegree", "re74", "re75",
                "re78", "u74", "u75", "score_ai")], "lalonde.csv", row.names = FALSE)
w <- function(x, file) write.csv(do.call(rbind, x), file, row.names = FALSE)
options(digits = 17)
w(units, "matchit_units.csv")
w(pairs, "matchit_pairs.csv")
w(bal, "matchit_balance.csv")
w(nns, "matchit_nn.csv")
w(effs, "matchit_effects.csv")
w(ai, "matching_ai.csv")
cat("done\n")
