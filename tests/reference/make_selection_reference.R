# References for multisurv.selection: univariate Cox score tests (UnivariateCoxSelector) and stepwise Cox
# selection by AIC / BIC (StepwiseCoxSelector) on survival::pbc (Mayo Clinic PBC trial), complete cases.
#
# Run from the repository root:  Rscript tests/reference/make_selection_reference.R
suppressPackageStartupMessages({library(survival); library(MASS); library(jsonlite)})
d <- survival::pbc
vars <- c("trt", "age", "sex", "ascites", "hepato", "spiders", "edema", "bili", "chol", "albumin", "copper",
          "alk.phos", "ast", "trig", "platelet", "protime", "stage")
d <- d[complete.cases(d[, c("time", "status", vars)]), c("time", "status", vars)]
d$sex <- as.numeric(d$sex == "f")
d$event <- as.numeric(d$status == 2)   # death; transplant (1) and alive (0) are censored
d$bili <- log(d$bili); d$protime <- log(d$protime); d$albumin <- log(d$albumin)  # the usual Mayo-model scales
n <- nrow(d); nevent <- sum(d$event)

score <- sapply(vars, function(v) {
  s <- summary(coxph(as.formula(paste("Surv(time, event) ~", v)), data = d, ties = "breslow"))$sctest
  c(chisq = unname(s["test"]), p = unname(s["pvalue"]))
})
# sign of the univariate effect, to turn the chi-square into a signed z
sign <- sapply(vars, function(v) sign(coef(coxph(as.formula(paste("Surv(time, event) ~", v)), data = d,
                                                  ties = "breslow"))))

full <- as.formula(paste("~", paste(vars, collapse = " + ")))
null_fit <- coxph(Surv(time, event) ~ 1, data = d)           # ties = "efron"
full_fit <- coxph(as.formula(paste("Surv(time, event)", paste(vars, collapse = " + "), sep = " ~ ")), data = d)
run <- function(start, direction, k) {
  f <- MASS::stepAIC(start, scope = list(lower = ~1, upper = full), direction = direction, k = k, trace = 0)
  terms <- attr(terms(f), "term.labels")
  list(selected = sort(terms), loglik = f$loglik[length(f$loglik)], criterion = extractAIC(f, k = k)[2],
       steps = as.character(f$anova$Step))
}
steps <- list(
  forward_aic = run(null_fit, "forward", 2),
  both_aic = run(null_fit, "both", 2),
  backward_aic = run(full_fit, "backward", 2),
  both_bic = run(null_fit, "both", log(nevent))
)
out <- list(
  source = "survival::pbc complete cases; MASS::stepAIC(coxph(...), k = 2 or log(nevent)); coxph score tests",
  versions = list(R = as.character(getRversion()), survival = as.character(packageVersion("survival")),
                  MASS = as.character(packageVersion("MASS"))),
  columns = vars, time = d$time, event = d$event, x = unname(as.matrix(d[, vars])),
  score_chisq = unname(score["chisq", ]), score_p = unname(score["p", ]), score_sign = unname(sign),
  full_loglik = full_fit$loglik[2], null_loglik = null_fit$loglik[1], nevent = nevent,
  stepwise = steps
)
write_json(out, "tests/reference/selection_reference.json", digits = 15, auto_unbox = TRUE)
str(steps)
