# Reference for multisurv.evaluation.resampling.validate(method="bootstrap"): Harrell's optimism-corrected
# Dxy / C of a fixed-covariate Cox model from rms::validate, with the exact bootstrap samples rms drew.
#
# rms::validate.cph draws its b-th bootstrap sample as sample(n, replace = TRUE) and fitting a Cox model uses
# no random numbers, so after set.seed(SEED) the samples are replicate(B, sample(n, replace = TRUE)). This
# script checks that claim by recomputing the optimism by hand from those samples, then writes the samples
# (0-based) so the Python test feeds the same samples to validate().
#
# Run from the repository root:  Rscript tests/reference/make_validate_reference.R
suppressPackageStartupMessages({library(rms); library(survival); library(jsonlite)})

d <- survival::veteran
d$celltype <- factor(d$celltype, levels = c("squamous", "smallcell", "adeno", "large"))
n <- nrow(d)
B <- 200
SEED <- 20261123

dd <- datadist(d); options(datadist = "dd")
fit <- cph(Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype, data = d, x = TRUE, y = TRUE,
           surv = FALSE)   # ties = "efron" (cph's default)
set.seed(SEED)
v <- rms::validate(fit, method = "boot", B = B)

set.seed(SEED)
samples <- replicate(B, sample(n, replace = TRUE))   # n x B
cindex <- function(lp, time, status) {
  # Harrell's C, higher lp = worse: survival::concordance with reverse = TRUE
  concordance(Surv(time, status) ~ lp, reverse = TRUE)$concordance
}
X <- fit$x
lp_orig <- as.vector(X %*% coef(fit))
app <- cindex(lp_orig, d$time, d$status)
train <- test <- numeric(B)
for (b in 1:B) {
  s <- samples[, b]
  fb <- coxph(Surv(d$time[s], d$status[s]) ~ X[s, ], ties = "efron")
  beta <- coef(fb); beta[is.na(beta)] <- 0
  train[b] <- cindex(as.vector(X[s, ] %*% beta), d$time[s], d$status[s])
  test[b] <- cindex(as.vector(X %*% beta), d$time, d$status)
}
manual_corrected_c <- app - mean(train - test)
rms_dxy <- v["Dxy", ]
# rms refits each bootstrap model with coxphFit(eps = 1e-4, iter.max = 10), looser than coxph's default,
# so its training/test C differ from the hand-made ones by about 1e-5 (measured 5.7e-6 on the mean).
stopifnot(abs((rms_dxy[["index.corrected"]] + 1) / 2 - manual_corrected_c) < 1e-4)

out <- list(
  source = "rms::validate(cph(Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype), B = 200)",
  versions = list(R = as.character(getRversion()), rms = as.character(packageVersion("rms")),
                  survival = as.character(packageVersion("survival"))),
  seed = SEED, B = B,
  time = d$time, status = d$status,
  x_columns = colnames(X), x = unname(X),
  samples0 = unname(t(samples - 1)),   # B x n, 0-based row positions
  rms_dxy = as.list(rms_dxy),
  rms_c = list(apparent = (rms_dxy[["index.orig"]] + 1) / 2, training = (rms_dxy[["training"]] + 1) / 2,
               test = (rms_dxy[["test"]] + 1) / 2, optimism = rms_dxy[["optimism"]] / 2,
               corrected = (rms_dxy[["index.corrected"]] + 1) / 2, n = rms_dxy[["n"]]),
  manual = list(apparent = app, train = train, test = test, corrected = manual_corrected_c)
)
write_json(out, "tests/reference/validate_reference.json", digits = 15, auto_unbox = TRUE, pretty = FALSE)
cat(sprintf("rms corrected C = %.6f, manual = %.6f\n", (rms_dxy[["index.corrected"]] + 1) / 2, manual_corrected_c))
