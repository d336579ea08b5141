# Reference values for LassoCoxSelector(alpha=a) at a FIXED penalty on a 1,000-gene matrix (issue 19, item 7).
#
# Run from the repository root:
#     Rscript tests/reference/make_lasso_genes_reference.R
# It writes tests/reference/data/genes_1000.csv.gz (the data, simulated here) and
# tests/reference/lasso_genes_reference.json. Packages: survival, glmnet, jsonlite.
#
# Data: n = 120 patients x p = 1,000 "genes", simulated to look like log2 expression: 20 co-expression
# modules (a shared module factor plus gene noise), gene means drawn from N(7, 2^2), values rounded to 4
# decimals (as a CSV would hold them). Survival depends on three genes of two modules; censoring is
# exponential plus administrative at 60 months. Times are rounded to 0.01 months; tied times are broken
# (+ 1e-4 * rank) so that glmnet's Breslow likelihood and scikit-survival's agree exactly.
#
# For each requested lambda glmnet is fitted on a path from lambda_max down to exactly that lambda, with
# glmnet.control(fdev = 0, devmax = 1) so glmnet's own path cannot stop early either (its default stops
# when the deviance explained changes by < 1e-5, the very behaviour that made multisurv fit a larger
# penalty than asked), and thresh = 1e-13.
#
# Times of 0: survival::coxph accepts an event at time 0 (the partial likelihood depends only on the
# order of the times), glmnet refuses ("Non-positive event times encountered"). The second case sets
# two patients' times to 0 (one event, one censored); glmnet gets 1e-6 there instead, which keeps the order
# (every other time is >= 0.01) and hence the same partial likelihood, so the coefficients are the ones a
# Cox fit with times 0 has.

suppressPackageStartupMessages({
  library(survival)
  library(glmnet)
  library(jsonlite)
})

set.seed(20261204)
n <- 120
p <- 1000
n_modules <- 20
module <- rep(seq_len(n_modules), each = p / n_modules)
factors <- matrix(rnorm(n * n_modules), n, n_modules)
loading <- runif(p, 0.3, 0.9)
x <- factors[, module] * rep(loading, each = n) + matrix(rnorm(n * p), n, p) * rep(sqrt(1 - loading^2), each = n)
x <- sweep(x, 2, rnorm(p, 7, 2), "+")
x <- round(x, 4)
colnames(x) <- sprintf("gene_%04d", seq_len(p))
z <- scale(x)
eta <- 0.9 * z[, 3] - 0.7 * z[, 60] + 0.5 * z[, 61]
t_event <- rexp(n, 0.02 * exp(eta))
t_cens <- pmin(rexp(n, 0.01), 60)
time <- round(pmin(t_event, t_cens), 2)
time <- pmax(time, 0.01)
status <- as.integer(t_event <= t_cens)
time <- time + 1e-4 * (rank(time, ties.method = "first") - 1) * duplicated(time) # break ties only where tied
stopifnot(!anyDuplicated(time))
time <- round(time, 4)
stopifnot(!anyDuplicated(time))

dir.create(file.path("tests", "reference", "data"), showWarnings = FALSE)
data_file <- file.path("tests", "reference", "data", "genes_1000.csv.gz")
con <- gzfile(data_file, "w")
write.csv(data.frame(time = time, status = status, x, check.names = FALSE), con, row.names = FALSE)
close(con)
# Read back what Python will read, so both fit the same numbers.
d <- read.csv(data_file, check.names = FALSE)
x <- as.matrix(d[, -(1:2)])
time <- d$time
status <- d$status

sd_pop <- apply(x, 2, function(v) sqrt(mean((v - mean(v))^2)))
glmnet.control(fdev = 0, devmax = 1)

# lambda_max (the smallest penalty with every coefficient 0) in closed form: max_j |U_j| / (n * alpha), U the
# Breslow score at beta = 0 of the standardised genes (no tied times here).
lambda_max <- function(x, y, alpha = 1) {
  zs <- sweep(sweep(x, 2, colMeans(x)), 2, sd_pop, "/")
  ord <- order(y[, 1])
  zs <- zs[ord, , drop = FALSE]
  d <- y[ord, 2]
  m <- nrow(zs)
  risk_mean <- apply(zs, 2, function(v) rev(cumsum(rev(v)))) / (m:1)
  max(abs(colSums((zs - risk_mean)[d == 1, , drop = FALSE]))) / (m * alpha)
}

fit_at <- function(x, y, lam, alpha = 1) {
  lam_max <- lambda_max(x, y, alpha)
  path <- exp(seq(log(lam_max), log(lam), length.out = 60))
  f <- glmnet(x, y, family = "cox", alpha = alpha, lambda = path, standardize = TRUE, thresh = 1e-13,
              maxit = 1e7)
  stopifnot(abs(tail(f$lambda, 1) - lam) < 1e-12 * lam)
  b <- as.numeric(as.matrix(f$beta)[, ncol(f$beta)])
  list(lambda = lam, lambda_max = lam_max, coef_std = b * sd_pop,  # on the standardised (population sd) scale
       nonzero = which(b != 0) - 1L,                               # 0-based column indices
       dev_ratio = tail(f$dev.ratio, 1))
}

y <- Surv(time, status)
lam_max <- lambda_max(x, y)
stopifnot(abs(glmnet(x, y, family = "cox", nlambda = 5, lambda.min.ratio = 0.5)$lambda[1] - lam_max) < 1e-9)
# Fractions of lambda_max: near the top (1-3 genes), the middle, and deep in the path where the default
# glmnet/scikit-survival path stops early.
fractions <- c(0.8, 0.6, 0.4, 0.25, 0.15)
cases <- lapply(fractions, function(f) fit_at(x, y, f * lam_max))
enet <- fit_at(x, y, 0.3 * lam_max / 0.5, alpha = 0.5)

# Times of 0.
time0 <- time
zero_rows <- c(which(status == 1)[1], which(status == 0)[1])
time0[zero_rows] <- 0
y0 <- Surv(pmax(time0, 1e-6), status)
zero_case <- fit_at(x, y0, 0.4 * lam_max)
# coxph accepts time 0 with an event: record that it fits (3 genes, unpenalised) on the real zeros.
cox0 <- coxph(Surv(time0, status) ~ x[, 3] + x[, 60] + x[, 61], ties = "breslow")

ref <- list(
  meta = list(
    r_version = R.version.string,
    survival_version = as.character(packageVersion("survival")),
    glmnet_version = as.character(packageVersion("glmnet")),
    script = "tests/reference/make_lasso_genes_reference.R",
    call = paste("glmnet(x, Surv(time, status), family = 'cox', lambda = exp(seq(log(lambda_max), log(lambda),",
                 "length.out = 60)), standardize = TRUE, thresh = 1e-13) with glmnet.control(fdev = 0, devmax = 1)")
  ),
  data_file = "tests/reference/data/genes_1000.csv.gz",
  lambda_max = lam_max,
  cases = cases,
  enet = enet,
  zero_time = list(rows = zero_rows - 1L, case = zero_case, coxph_coef = unname(coef(cox0)),
                   coxph_loglik = cox0$loglik[2])
)
out_file <- file.path("tests", "reference", "lasso_genes_reference.json")
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
for (cs in cases) cat(sprintf("lambda %.4f: %d non-zero\n", cs$lambda, length(cs$nonzero)))
cat(sprintf("enet: %d; zero-time: %d\n", length(enet$nonzero), length(zero_case$nonzero)))
