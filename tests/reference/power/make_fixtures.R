# Reference values for trialkit.power, made with R's established power functions.
# R 4.2.2 (Debian), pwr 1.3.0, stats (power.t.test, power.prop.test) from R 4.2.2.
# Run:  Rscript make_fixtures.R   (writes the CSV files next to this script)
# The cluster (PowerUp!) and stepped-wedge (Hussey & Hughes) rows are the published closed
# forms evaluated in R, independently of trialkit's Python code:
#   Dong N, Maynard R (2013) PowerUp!, CRA2_2: MDES = M * sqrt(rho(1-R2^2)/(P(1-P)J) + (1-rho)(1-R1^2)/(P(1-P)Jn)),
#     M = qt(1-alpha/2, J-g-2) + qt(power, J-g-2);
#   Hussey MA, Hughes JP (2007) Contemp Clin Trials 28:182-191, eq. for Var(theta) in U, W, V; the example
#     design of swCRTdesign::swPwr's help page (24 clusters in 4 waves of 6, n = 120, mu0 = .05, mu1 = .035, tau = .01).
suppressPackageStartupMessages(library(pwr))

# 1. pwr.t.test: power on a grid (two-sample, equal n per arm)
g <- expand.grid(d = c(0.2, 0.35, 0.5, 0.8, 1.2), n = c(10, 25, 64, 200), alpha = c(0.01, 0.05),
                 alternative = c("two.sided", "greater"), stringsAsFactors = FALSE)
g$power <- mapply(function(d, n, a, alt) pwr.t.test(d = d, n = n, sig.level = a, type = "two.sample",
                                                        alternative = alt)$power, g$d, g$n, g$alpha, g$alternative)
write.csv(g, "pwr_t_test_power.csv", row.names = FALSE)

# 2. pwr.t.test: n per arm (unrounded) for a target power
g <- expand.grid(d = c(0.2, 0.3, 0.5, 0.8), power = c(0.8, 0.9), alpha = c(0.01, 0.05))
g$n <- mapply(function(d, p, a) pwr.t.test(d = d, power = p, sig.level = a)$n, g$d, g$power, g$alpha)
write.csv(g, "pwr_t_test_n.csv", row.names = FALSE)

# 3. pwr.t2n.test: unequal arms
g <- expand.grid(n1 = c(20, 50, 150), n2 = c(40, 100, 300), d = c(0.3, 0.5), alpha = 0.05)
g$power <- mapply(function(n1, n2, d, a) pwr.t2n.test(n1 = n1, n2 = n2, d = d, sig.level = a)$power,
                  g$n1, g$n2, g$d, g$alpha)
write.csv(g, "pwr_t2n_test_power.csv", row.names = FALSE)

# 4. power.t.test: delta (the MDE) for n per arm, sd, power
g <- expand.grid(n = c(20, 64, 500), sd = c(1, 15), power = c(0.8, 0.9))
g$delta <- mapply(function(n, s, p) power.t.test(n = n, sd = s, power = p)$delta, g$n, g$sd, g$power)
write.csv(g, "power_t_test_delta.csv", row.names = FALSE)

# 5. pwr.2p2n.test: arcsine (Cohen's h) power, unequal arms
g <- expand.grid(p0 = c(0.1, 0.3, 0.5), diff = c(0.03, 0.05, 0.1), n1 = c(300, 1000), n2 = c(300, 2000))
g$power <- mapply(function(p0, df, n1, n2) pwr.2p2n.test(h = ES.h(p0 + df, p0), n1 = n2, n2 = n1)$power,
                  g$p0, g$diff, g$n1, g$n2)
write.csv(g, "pwr_2p2n_test_power.csv", row.names = FALSE)

# 6. power.prop.test(strict = TRUE): power and n per arm (pooled-null variance)
g <- expand.grid(p0 = c(0.1, 0.3, 0.5), diff = c(0.03, 0.05, 0.1), n = c(500, 2000))
g$power <- mapply(function(p0, df, n) power.prop.test(n = n, p1 = p0, p2 = p0 + df, strict = TRUE)$power,
                  g$p0, g$diff, g$n)
write.csv(g, "power_prop_test_power.csv", row.names = FALSE)
g <- expand.grid(p0 = c(0.1, 0.3, 0.5), diff = c(0.03, 0.05, 0.1), power = c(0.8, 0.9))
g$n <- mapply(function(p0, df, p) power.prop.test(p1 = p0, p2 = p0 + df, power = p, strict = TRUE)$n,
              g$p0, g$diff, g$power)
write.csv(g, "power_prop_test_n.csv", row.names = FALSE)

# 7. PowerUp! CRA2_2 MDES (Dong & Maynard 2013), two-tailed
g <- expand.grid(rho2 = c(0.05, 0.2), n = c(20, 50), J = c(20, 40, 300), R12 = c(0, 0.5), R22 = c(0, 0.5),
                 g2 = c(0, 1), P = c(0.5, 0.3))
mdes <- function(rho2, n, J, R12, R22, g2, P, alpha = 0.05, power = 0.8) {
  df <- J - g2 - 2
  M <- qt(1 - alpha / 2, df) + qt(power, df)
  M * sqrt(rho2 * (1 - R22) / (P * (1 - P) * J) + (1 - rho2) * (1 - R12) / (P * (1 - P) * J * n))
}
g$mdes <- mapply(mdes, g$rho2, g$n, g$J, g$R12, g$R22, g$g2, g$P)
write.csv(g, "powerup_cra2_mdes.csv", row.names = FALSE)

# 8. Hussey & Hughes (2007) closed form, swCRTdesign help-page example and variants
hh <- function(I, waves, Tn, N, mu0, mu1, tau, alpha = 0.05) {
  per <- I / waves
  X <- matrix(0, I, Tn)
  for (w in 1:waves) X[((w - 1) * per + 1):(w * per), (w + 1):Tn] <- 1
  mubar <- (mu0 + mu1) / 2
  sigma2 <- mubar * (1 - mubar) / N
  U <- sum(X); W <- sum(colSums(X)^2); V <- sum(rowSums(X)^2)
  v <- I * sigma2 * (sigma2 + Tn * tau^2) / ((I * U - W) * sigma2 + (U^2 + I * Tn * U - Tn * W - I * V) * tau^2)
  z <- abs(mu1 - mu0) / sqrt(v)
  c(var = v, power = pnorm(z - qnorm(1 - alpha / 2)) + pnorm(-z - qnorm(1 - alpha / 2)))
}
g <- data.frame(I = c(24, 24, 24, 12), waves = c(4, 4, 4, 4), N = c(120, 120, 60, 100),
                mu0 = c(0.05, 0.05, 0.05, 0.30), mu1 = c(0.035, 0.035, 0.035, 0.35), tau = c(0.01, 0.02, 0.01, 0.03))
g$T <- g$waves + 1
res <- t(mapply(hh, g$I, g$waves, g$T, g$N, g$mu0, g$mu1, g$tau))
g$var <- res[, "var"]; g$power <- res[, "power"]
write.csv(g, "hussey_hughes_power.csv", row.names = FALSE)

# 9. Schoenfeld (1981) and Freedman (1982) events, closed forms
g <- expand.grid(hr = c(0.6, 0.75, 0.8, 1.25, 1.5), P = c(0.5, 1/3), power = c(0.8, 0.9))
z <- qnorm(0.975) + qnorm(g$power)
g$schoenfeld <- z^2 / (g$P * (1 - g$P) * log(g$hr)^2)
k <- g$P / (1 - g$P)
g$freedman <- z^2 * (1 + k * g$hr)^2 / (k * (1 - g$hr)^2)
write.csv(g, "survival_events.csv", row.names = FALSE)
cat("done\n")
