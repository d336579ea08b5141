# References for multisurv.selection: univariate Cox score tests (UnivariateCoxSelector), stepwise Cox
# selection by AIC / BIC (StepwiseCoxSelector) and the elastic-net Cox path (LassoCoxSelector with
# l1_ratio = 0.5) on survival::pbc (Mayo Clinic PBC trial), complete cases.
#
# Run from the repository root:  Rscript tests/reference/make_selection_reference.R
suppressPackageStartupMessages({library(survival); library(MASS); library(glmnet); library(jsonlite)})
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
# Elastic net (glmnet alpha = 0.5 is multisurv's l1_ratio = 0.5). Tied times are broken by 0.001 * row so
# that the tie handling of the two implementations cannot matter; coefficients are exported on the original
# scale with the population sd that glmnet standardises by.
x <- as.matrix(d[, vars])
time_detied <- d$time + 0.001 * seq_len(n)
stopifnot(!anyDuplicated(time_detied))
enet_fit <- glmnet(x, Surv(time_detied, d$event), family = "cox", alpha = 0.5, nlambda = 30, standardize = TRUE,
                   thresh = 1e-14)
enet <- list(call = paste("glmnet(x, Surv(time + 0.001 * row, event), family = 'cox', alpha = 0.5, nlambda = 30,",
                          "thresh = 1e-14)"),
             glmnet = as.character(packageVersion("glmnet")), time = time_detied, lambda = enet_fit$lambda,
             coef = unname(split(as.matrix(enet_fit$beta), col(enet_fit$beta))),
             sd = unname(apply(x, 2, function(v) sqrt(mean((v - mean(v))^2)))))

out <- list(
  source = "survival::pbc complete cases; MASS::stepAIC(coxph(...), k = 2 or log(nevent)); coxph score tests",
  versions = list(R = as.character(getRversion()), survival = as.character(packageVersion("survival")),
                  MASS = as.character(packageVersion("MASS"))),
  columns = vars, time = d$time, event = d$event, x = unname(as.matrix(d[, vars])),
  score_chisq = unname(score["chisq", ]), score_p = unname(score["p", ]), score_sign = unname(sign),
  full_loglik = full_fit$loglik[2], null_loglik = null_fit$loglik[1], nevent = nevent,
  stepwise = steps,
  elastic_net = enet
)
write_json(out, "tests/reference/selection_reference.json", digits = 15, auto_unbox = TRUE)
str(steps)
