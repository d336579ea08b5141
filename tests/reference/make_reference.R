# Reference values for multisurv's evaluation and plotting tests.
#
# Run from the repository root:
#     Rscript tests/reference/make_reference.R
# It writes tests/reference/veteran_reference.json, which the Python tests load (they never need R).
# Packages: R >= 4.2, survival, jsonlite (Debian: r-base-core r-cran-survival r-cran-jsonlite).
#
# Data: survival's `veteran` (Veterans' Administration lung cancer trial, n = 137), the same data that
# scikit-survival ships as sksurv.datasets.load_veterans_lung_cancer(); the JSON keeps the columns so
# the tests can check that both copies agree row by row.
#
# Sign conventions. survival::concordance counts a pair as concordant when the larger x has the LONGER
# survival (reverse = FALSE). multisurv's risk is "higher = worse", so multisurv's concordance(y, risk)
# must equal concordance(Surv(time, status) ~ risk, reverse = TRUE). A high Karnofsky score means a fit
# patient, i.e. a GOOD prognosis, so karno used as a "risk" gives C < 0.5, and -karno gives C > 0.5.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "veteran_reference.json")

vet <- survival::veteran
stopifnot(nrow(vet) == 137)

# Harrell's C: the default timewt = "n" is Harrell's C; tied risk counts 1/2, tied event times are not
# comparable, an event and a censoring at the same time are comparable (the censored patient outlived it).
cindex_entry <- function(fit) {
  counts <- fit$count
  list(
    cindex = unname(fit$concordance),
    concordant = unname(counts[["concordant"]]),
    discordant = unname(counts[["discordant"]]),
    tied_x = unname(counts[["tied.x"]]),
    tied_y = unname(counts[["tied.y"]]),
    tied_xy = unname(counts[["tied.xy"]])
  )
}

c_karno_risk <- concordance(Surv(time, status) ~ karno, data = vet, reverse = TRUE)
c_karno_good <- concordance(Surv(time, status) ~ karno, data = vet)  # = C of risk = -karno

# A fitted Cox model's linear predictor as a risk score (Breslow ties, as scikit-survival uses).
cox <- coxph(Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype,
             data = vet, ties = "breslow")
lp <- unname(predict(cox, type = "lp"))
c_lp <- concordance(Surv(time, status) ~ lp, data = data.frame(vet, lp = lp), reverse = TRUE)
stopifnot(abs(c_lp$concordance - cox$concordance[["concordance"]]) < 1e-12)

# A hand-made case with tied times (event/event and event/censored) and tied risks.
ties <- data.frame(
  time   = c(1, 2, 2, 2, 3, 4, 4, 5, 6, 7),
  status = c(1, 1, 1, 0, 1, 0, 1, 1, 0, 1),
  risk   = c(5, 3, 3, 4, 4, 2, 2, 1, 1, 0)
)
c_ties <- concordance(Surv(time, status) ~ risk, data = ties, reverse = TRUE)

# Kaplan-Meier: overall and by treatment arm, log-log ("exponential Greenwood") 95% bands, which is
# what lifelines' KaplanMeierFitter reports.
km_times <- c(30, 90, 180, 365)
km_entry <- function(fit) {
  s <- summary(fit, times = km_times, extend = TRUE)
  list(time = s$time, surv = s$surv, lower = s$lower, upper = s$upper, n_risk = s$n.risk)
}
km_all <- survfit(Surv(time, status) ~ 1, data = vet, conf.type = "log-log")
km_trt1 <- survfit(Surv(time, status) ~ 1, data = subset(vet, trt == 1), conf.type = "log-log")
km_trt2 <- survfit(Surv(time, status) ~ 1, data = subset(vet, trt == 2), conf.type = "log-log")

# Log-rank (survdiff, rho = 0).
logrank_entry <- function(fit) {
  df <- length(fit$n) - 1
  list(chisq = unname(fit$chisq), df = df, p_value = pchisq(fit$chisq, df, lower.tail = FALSE),
       n = as.list(setNames(as.numeric(fit$n), sub(".*=", "", names(fit$n)))))
}
lr_trt <- survdiff(Surv(time, status) ~ trt, data = vet)
lr_cell <- survdiff(Surv(time, status) ~ celltype, data = vet)

ref <- list(
  meta = list(
    r_version = R.version.string,
    survival_version = as.character(packageVersion("survival")),
    jsonlite_version = as.character(packageVersion("jsonlite")),
    script = "tests/reference/make_reference.R"
  ),
  data = list(
    time = vet$time, status = vet$status, karno = vet$karno, trt = vet$trt,
    celltype = as.character(vet$celltype), age = vet$age, diagtime = vet$diagtime, prior = vet$prior
  ),
  concordance = list(
    karno_as_risk = c(cindex_entry(c_karno_risk),
                      call = "concordance(Surv(time, status) ~ karno, data = veteran, reverse = TRUE)"),
    minus_karno_as_risk = c(cindex_entry(c_karno_good),
                            call = "concordance(Surv(time, status) ~ karno, data = veteran)"),
    cox_lp = c(cindex_entry(c_lp),
               call = paste("concordance(Surv(time, status) ~ lp, reverse = TRUE), lp = predict(coxph(",
                            "Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype,",
                            "ties = 'breslow'), type = 'lp')")),
    ties = c(cindex_entry(c_ties), list(time = ties$time, status = ties$status, risk = ties$risk),
             call = "concordance(Surv(time, status) ~ risk, data = ties, reverse = TRUE)")
  ),
  cox = list(
    formula = "Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype, ties = 'breslow'",
    coef = as.list(coef(cox)),
    loglik = unname(cox$loglik[2]),  # Breslow partial log-likelihood at the fitted coefficients
    lp = lp
  ),
  km = list(
    call = "summary(survfit(Surv(time, status) ~ 1, conf.type = 'log-log'), times = c(30, 90, 180, 365))",
    all = km_entry(km_all), trt1 = km_entry(km_trt1), trt2 = km_entry(km_trt2)
  ),
  logrank = list(
    trt = c(logrank_entry(lr_trt), call = "survdiff(Surv(time, status) ~ trt, data = veteran)"),
    celltype = c(logrank_entry(lr_cell), call = "survdiff(Surv(time, status) ~ celltype, data = veteran)")
  )
)

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
