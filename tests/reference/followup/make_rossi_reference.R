# Reference values for trialkit.followup on the Rossi et al. (1980) recidivism
# experiment (432 released prisoners randomised to financial aid `fin`; weeks to
# first arrest over 52 weeks), as shipped by the Python package lifelines
# (lifelines.datasets.load_rossi, exported to rossi.csv by make_rossi_csv.py).
#
# Made with: R 4.2.2, survival 3.5-3, cmprsk 2.2-11 (Debian r-cran-survival, r-cran-cmprsk).
# Run from this folder:  Rscript make_rossi_reference.R
# Outputs: rossi_km.csv, rossi_logrank.csv, rossi_cox.csv, rossi_rmst.csv, rossi_zph.csv, rossi_cif.csv,
#          rossi_gray.csv, rossi_gray_g3_strata_mar.csv
#
# `cause` is an artificial competing-risks split of arrests (1: prio <= 2, 2: prio > 2),
# 0 = censored, used only to compare cumulative incidence with cmprsk::cuminc.
suppressPackageStartupMessages({library(survival); library(cmprsk)})
d <- read.csv("rossi.csv")
options(digits = 15)

## Kaplan-Meier by arm (default conf.type = "log", Greenwood variance)
fit <- survfit(Surv(week, arrest) ~ fin, data = d, conf.type = "log")
s <- summary(fit)  # event times only
km <- data.frame(group = as.integer(sub("fin=", "", as.character(s$strata))), time = s$time,
                 survival = s$surv, ci_low = s$lower, ci_high = s$upper, at_risk = s$n.risk,
                 events = s$n.event, std_err = s$std.err)
fit2 <- survfit(Surv(week, arrest) ~ fin, data = d, conf.type = "log-log")
s2 <- summary(fit2)
km$ci_low_loglog <- s2$lower; km$ci_high_loglog <- s2$upper
write.csv(km, "rossi_km.csv", row.names = FALSE)

## Log-rank tests: plain, stratified by wexp, three groups (fin x wexp as 4 groups)
lr <- survdiff(Surv(week, arrest) ~ fin, data = d)
lrs <- survdiff(Surv(week, arrest) ~ fin + strata(wexp), data = d)
d$grp4 <- 2 * d$fin + d$wexp
lr4 <- survdiff(Surv(week, arrest) ~ grp4, data = d)
pval <- function(x) pchisq(x$chisq, length(x$n) - 1, lower.tail = FALSE)
logrank <- data.frame(test = c("fin", "fin_strata_wexp", "fin_x_wexp"),
                      statistic = c(lr$chisq, lrs$chisq, lr4$chisq),
                      df = c(1, 1, 3),
                      p = c(pval(lr), pchisq(lrs$chisq, 1, lower.tail = FALSE), pval(lr4)))
write.csv(logrank, "rossi_logrank.csv", row.names = FALSE)

## Cox models (tight convergence so the comparison measures the algorithms, not the stopping rule)
ctl <- coxph.control(eps = 1e-12, iter.max = 100, toler.chol = 1e-14)
form <- Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio
one <- function(fit, model) {
  co <- summary(fit)$coefficients
  se <- if ("robust se" %in% colnames(co)) co[, "robust se"] else co[, "se(coef)"]
  data.frame(model = model, term = rownames(co), estimate = co[, "coef"], se = se,
             naive_se = co[, "se(coef)"], loglik = fit$loglik[2], loglik0 = fit$loglik[1])
}
cox <- rbind(
  one(coxph(form, data = d, ties = "efron", control = ctl), "efron"),
  one(coxph(form, data = d, ties = "breslow", control = ctl), "breslow"),
  one(coxph(form, data = d, ties = "efron", robust = TRUE, control = ctl), "efron_robust"),
  one(coxph(form, data = d, ties = "breslow", robust = TRUE, control = ctl), "breslow_robust"),
  one(coxph(Surv(week, arrest) ~ fin + age + race + mar + paro + prio + strata(wexp), data = d,
            ties = "efron", control = ctl), "efron_strata_wexp"),
  one(coxph(Surv(week, arrest) ~ fin + age + prio, data = d, ties = "efron", robust = TRUE,
            cluster = age, control = ctl), "efron_cluster_age")
)
write.csv(cox, "rossi_cox.csv", row.names = FALSE)

## Proportional-hazards check (survival >= 3: score test, transform = "km")
z <- cox.zph(coxph(form, data = d, ties = "efron", control = ctl), transform = "km")
zt <- data.frame(term = rownames(z$table), statistic = z$table[, "chisq"], df = z$table[, "df"],
                 p = z$table[, "p"])
write.csv(zt, "rossi_zph.csv", row.names = FALSE)

## Restricted mean survival time by arm at tau = 52 and 30 (print.survfit rmean)
rm <- NULL
for (tau in c(52, 30)) {
  t <- summary(fit, rmean = tau)$table
  rm <- rbind(rm, data.frame(group = c(0, 1), tau = tau, rmst = t[, "rmean"], se = t[, "se(rmean)"]))
}
write.csv(rm, "rossi_rmst.csv", row.names = FALSE)

## Cumulative incidence (Aalen-Johansen) by arm: cmprsk::cuminc estimates and variances at the
## distinct event times
ci <- cuminc(d$week, d$cause, group = d$fin, cencode = 0)
times <- sort(unique(d$week[d$cause > 0]))
tp <- timepoints(ci, times)
rows <- NULL
for (nm in rownames(tp$est)) {
  parts <- strsplit(nm, " ")[[1]]
  rows <- rbind(rows, data.frame(group = as.integer(parts[1]), cause = as.integer(parts[2]),
                                 time = times, incidence = tp$est[nm, ], var = tp$var[nm, ]))
}
rows <- rows[!is.na(rows$incidence), ]
write.csv(rows, "rossi_cif.csv", row.names = FALSE)
# Gray's test of equal cumulative incidence across arms, per cause
gt <- data.frame(cause = c(1, 2), statistic = ci$Tests[, "stat"], p = ci$Tests[, "pv"],
                 df = ci$Tests[, "df"])
write.csv(gt, "rossi_gray.csv", row.names = FALSE)
# three groups (fin x wexp collapsed to 3 levels) and stratified by mar
d$g3 <- pmin(2 * d$fin + d$wexp, 2)
ci3 <- cuminc(d$week, d$cause, group = d$g3, strata = d$mar, cencode = 0)
gt3 <- data.frame(cause = c(1, 2), statistic = ci3$Tests[, "stat"], p = ci3$Tests[, "pv"],
                  df = ci3$Tests[, "df"])
write.csv(gt3, "rossi_gray_g3_strata_mar.csv", row.names = FALSE)
