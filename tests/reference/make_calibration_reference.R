# Reference values for multisurv.evaluation.calibration and multisurv.evaluation.decision_curve.
#
# Run from the repository root:
#     Rscript tests/reference/make_calibration_reference.R
# It writes tests/reference/calibration_reference.json, which the Python tests load (they never need R).
# Packages: R >= 4.2, survival, jsonlite.
#
# Data: survival::veteran (n = 137), the same rows as sksurv.datasets.load_veterans_lung_cancer().
# Predictions: S(t0 | x) from coxph(Surv(time, status) ~ karno + age + prior + celltype) (Efron ties) at
# t0 = 90 and 180 days; the JSON carries them so both sides calibrate the very same numbers.
#
# Calibration: groups = cut(p, quantile(p, seq(0, 1, length = g + 1)), include.lowest = TRUE)
# (quantile type 7, as numpy's default), observed = summary(survfit(Surv ~ 1, conf.type = "log-log"),
# times = t0) per group.
#
# Decision curve (Vickers et al. 2008, BMC Med Inform Decis Mak 8:53): for threshold pt, positives =
# risk >= pt, NB = (1 - S+(t0)) P(+) - S+(t0) P(+) pt / (1 - pt), with S+ the Kaplan-Meier survival of the
# positives from survfit; treat all uses everyone. This is the survival decision curve of the dcurves and
# stdca R code; neither is packaged for Debian, so the formula is written out here on survfit's estimates.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "calibration_reference.json")
vet <- survival::veteran
stopifnot(nrow(vet) == 137)

cox <- coxph(Surv(time, status) ~ karno + age + prior + celltype, data = vet, ties = "efron")
fit_all <- survfit(cox, newdata = vet)

km_at <- function(time, status, t0) {
  s <- summary(survfit(Surv(time, status) ~ 1, conf.type = "log-log"), times = t0, extend = TRUE)
  c(surv = s$surv, lower = s$lower, upper = s$upper)
}

one_t0 <- function(t0, n_groups) {
  p <- as.numeric(summary(fit_all, times = t0)$surv)
  groups <- cut(p, quantile(p, seq(0, 1, length.out = n_groups + 1)), include.lowest = TRUE, labels = FALSE)
  cal <- lapply(sort(unique(groups)), function(g) {
    m <- groups == g
    k <- km_at(vet$time[m], vet$status[m], t0)
    list(group = g, n = sum(m), n_events = sum(vet$status[m] == 1 & vet$time[m] <= t0),
         predicted = mean(p[m]), observed = unname(k["surv"]), lower = unname(k["lower"]),
         upper = unname(k["upper"]))
  })
  risk <- 1 - p
  thresholds <- seq(0.05, 0.95, by = 0.05)
  s_all <- km_at(vet$time, vet$status, t0)["surv"]
  dca <- lapply(thresholds, function(pt) {
    pos <- risk >= pt
    odds <- pt / (1 - pt)
    if (!any(pos)) {
      nb <- 0
    } else {
      s_pos <- km_at(vet$time[pos], vet$status[pos], t0)["surv"]
      share <- mean(pos)
      nb <- unname((1 - s_pos) * share - s_pos * share * odds)
    }
    list(threshold = pt, n_positive = sum(pos), net_benefit = nb,
         treat_all = unname((1 - s_all) - s_all * odds))
  })
  # Breslow (ctype = 1) survival at t0 from the same linear predictor: what evaluation.baseline reproduces.
  p_breslow <- as.numeric(summary(survfit(cox, newdata = vet, ctype = 1), times = t0)$surv)
  list(t0 = t0, n_groups = n_groups, surv_prob = p, surv_prob_breslow = p_breslow,
       calibration = cal, decision_curve = dca)
}

out <- list(
  source = paste("R", getRversion(), "survival", packageVersion("survival")),
  time = vet$time, status = vet$status,
  lp = unname(predict(cox, type = "lp")),
  cases = list(one_t0(90, 5), one_t0(180, 4))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = 15, pretty = TRUE, na = "null"), out_file)
cat("wrote", out_file, "\n")
