# Reference values for multisurv.selection.lasso_cox (LASSO-Cox path and its cross-validated deviance).
#
# Run from the repository root:
#     Rscript tests/reference/make_lasso_reference.R
# It writes tests/reference/lasso_reference.json. Packages: survival, glmnet, jsonlite
# (Debian: r-cran-survival r-cran-glmnet r-cran-jsonlite).
#
# Data: survival's `veteran` with the design matrix of karno, age, diagtime, prior, trt and celltype
# (treatment coding). Tied times are broken by adding 0.001 * row number: glmnet's grouped CV deviance
# includes the saturated log-likelihood, which is 0 without ties but a per-fold constant with them,
# whereas multisurv reports -2 * (partial log-likelihood difference) only. Without ties both agree.

suppressPackageStartupMessages({
  library(survival)
  library(glmnet)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "lasso_reference.json")

vet <- survival::veteran
time <- vet$time + 0.001 * seq_len(nrow(vet))
stopifnot(!anyDuplicated(time))
x <- model.matrix(~ karno + age + diagtime + prior + trt + celltype, data = vet)[, -1]
y <- Surv(time, vet$status)
foldid <- rep(1:5, length.out = nrow(vet))

fit <- glmnet(x, y, family = "cox", nlambda = 30, standardize = TRUE, thresh = 1e-14)
cvfit <- cv.glmnet(x, y, family = "cox", lambda = fit$lambda, foldid = foldid, grouped = TRUE,
                   standardize = TRUE, thresh = 1e-14)

# glmnet returns coefficients on the original scale; multisurv's coef_ is on the standardised scale
# (population sd, as glmnet standardises), so export the sd too.
sd_pop <- apply(x, 2, function(v) sqrt(mean((v - mean(v))^2)))

ref <- list(
  meta = list(
    r_version = R.version.string,
    survival_version = as.character(packageVersion("survival")),
    glmnet_version = as.character(packageVersion("glmnet")),
    script = "tests/reference/make_lasso_reference.R",
    call = paste("cv.glmnet(x, Surv(time, status), family = 'cox', lambda = glmnet(..., nlambda = 30)$lambda,",
                 "foldid = rep(1:5, length.out = 137), grouped = TRUE, thresh = 1e-14)")
  ),
  data = list(time = time, status = vet$status, x = unname(split(x, col(x))), columns = colnames(x),
              foldid = foldid),
  lambda = fit$lambda,
  coef = unname(split(as.matrix(fit$beta), col(fit$beta))),  # one vector per lambda, original scale
  sd = unname(sd_pop),
  cvm = cvfit$cvm,
  cvsd = cvfit$cvsd,
  lambda_min = cvfit$lambda.min,
  lambda_1se = cvfit$lambda.1se
)

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
