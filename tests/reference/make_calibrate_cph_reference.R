# Reference values for multisurv.evaluation.survival_calibration.calibrate_cox_at (issue 19): the bootstrap
# optimism-corrected calibration of a Cox model at time u, rms::calibrate(cph, cmethod = "KM", u, m, B).
#
# Run from the repository root:
#     Rscript tests/reference/make_calibrate_cph_reference.R
# It writes tests/reference/calibrate_cph_reference.json. Packages: rms, survival, jsonlite.
#
# Data: gbsg2 (tests/reference/data/gbsg2.csv, n = 686), tied times broken by + 0.001 * row (the original fit
# then has no ties; bootstrap resamples still duplicate rows, so Efron's tie handling matters there).
# Model: cph(Surv(time, status) ~ age + tsize + pnodes + progrec + horTh, surv = TRUE, time.inc = 1095).
# The resamples rms draws (set.seed, then sample(n, replace = TRUE) per resample) are written out so the test can
# replay them. The "hare" method (rms's default) needs polspline's hazard regression and is not reproduced.

suppressPackageStartupMessages({
  library(rms)
  library(survival)
  library(jsonlite)
})

d <- read.csv(file.path("tests", "reference", "data", "gbsg2.csv"))
d$horTh <- as.integer(d$horTh == "yes")
d$time <- d$time + 0.001 * seq_len(nrow(d))
stopifnot(!anyDuplicated(d$time))
n <- nrow(d)
u <- 1095
m <- 100
vars <- c("age", "tsize", "pnodes", "progrec", "horTh")
dd <- datadist(d[, vars]); options(datadist = "dd")
f <- cph(Surv(time, status) ~ age + tsize + pnodes + progrec + horTh, data = d, x = TRUE, y = TRUE, surv = TRUE,
         time.inc = u)
surv_u <- as.vector(f$surv.summary[2, , 1]^exp(f$linear.predictors))
SEED <- 20261205
run <- function(B) {
  set.seed(SEED)
  cal <- rms::calibrate(f, cmethod = "KM", u = u, m = m, B = B)
  list(B = B, index_orig = unname(cal[, "index.orig"]), training = unname(cal[, "training"]),
       test = unname(cal[, "test"]), optimism = unname(cal[, "mean.optimism"]),
       corrected = unname(cal[, "mean.corrected"]), mean_predicted = unname(cal[, "mean.predicted"]),
       km = unname(cal[, "KM"]), km_corrected = unname(cal[, "KM.corrected"]), n = unname(cal[, "n"]))
}
r20 <- run(20)
r200 <- run(200)
set.seed(SEED)
samples <- replicate(200, sample(n, replace = TRUE))
ref <- list(
  meta = list(r_version = R.version.string, rms_version = as.character(packageVersion("rms")),
              survival_version = as.character(packageVersion("survival")),
              script = "tests/reference/make_calibrate_cph_reference.R",
              call = "calibrate(cph(..., surv = TRUE, time.inc = 1095), cmethod = 'KM', u = 1095, m = 100, B)"),
  time = d$time, status = d$status, x = unname(split(as.matrix(d[, vars]), col(as.matrix(d[, vars])))),
  columns = vars, u = u, m = m, coef = unname(coef(f)), surv_u = surv_u,
  samples0 = unname(t(samples - 1)), b20 = r20, b200 = r200
)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA), file.path("tests", "reference", "calibrate_cph_reference.json"))
print(r20[c("mean_predicted", "km", "km_corrected", "n")])
