# Reference values for the logistic workflow (issue 19): multivariable logistic (glm / rms::lrm), LASSO-logistic
# (glmnet binomial with cv.glmnet), stepwise AIC/BIC (step), the logistic nomogram (rms::nomogram) and bootstrap
# validation (rms::validate and rms::calibrate on an lrm).
#
# Run from the repository root:
#     Rscript tests/reference/make_logistic_reference.R
# It writes tests/reference/logistic_reference.json. Packages: rms, glmnet, jsonlite.
#
# Data: gbsg2 (tests/reference/data/gbsg2.csv), endpoint "recurrence or death by 730 days", patients censored
# before 730 days excluded (n = 623, 165 events): the same cohort as make_binary_reference.R. Covariates: age,
# tsize, pnodes, progrec, estrec, horTh (yes = 1), menostat (Post = 1), grade2, grade3 (tgrade dummies, I = ref).

suppressPackageStartupMessages({
  library(rms)
  library(glmnet)
  library(jsonlite)
})

d <- read.csv(file.path("tests", "reference", "data", "gbsg2.csv"))
d$horTh <- as.integer(d$horTh == "yes")
d$menostat <- as.integer(d$menostat == "Post")
d$grade2 <- as.integer(d$tgrade == "II")
d$grade3 <- as.integer(d$tgrade == "III")
keep <- !(d$status == 0 & d$time < 730)
b <- d[keep, ]
b$y <- as.integer(b$status == 1 & b$time <= 730)
vars <- c("age", "tsize", "pnodes", "progrec", "estrec", "horTh", "menostat", "grade2", "grade3")
x <- as.matrix(b[, vars])
y <- b$y
n <- nrow(b)

# ---- multivariable logistic
full <- glm(reformulate(vars, "y"), family = binomial, data = b)
sm <- summary(full)$coefficients
ci <- confint.default(full)
lrm_full <- lrm(reformulate(vars, "y"), data = b)

# ---- glmnet binomial path and cross-validation
sd_pop <- apply(x, 2, function(v) sqrt(mean((v - mean(v))^2)))
path <- glmnet(x, y, family = "binomial", nlambda = 30, standardize = TRUE, thresh = 1e-14)
foldid <- rep(1:5, length.out = n)
cvfit <- cv.glmnet(x, y, family = "binomial", lambda = path$lambda, foldid = foldid, type.measure = "deviance",
                   standardize = TRUE, thresh = 1e-14)

# ---- stepwise (stats::step) by AIC and BIC
null <- glm(y ~ 1, family = binomial, data = b)
scope <- list(lower = ~1, upper = reformulate(vars))
steps <- list(
  forward_aic = step(null, scope = scope, direction = "forward", k = 2, trace = 0),
  backward_aic = step(full, scope = scope, direction = "backward", k = 2, trace = 0),
  both_aic = step(null, scope = scope, direction = "both", k = 2, trace = 0),
  both_bic = step(null, scope = scope, direction = "both", k = log(n), trace = 0)
)
step_out <- lapply(steps, function(f) list(selected = attr(terms(f), "term.labels"), aic = extractAIC(f, k = 2)[2],
                                          loglik = as.numeric(logLik(f))))

# ---- nomogram of an lrm (5 variables), probability axis at 0.05 .. 0.7
nvars <- c("age", "tsize", "pnodes", "progrec", "horTh")
dd <- datadist(b[, c(nvars, "y")]); options(datadist = "dd")
fn <- lrm(reformulate(nvars, "y"), data = b, x = TRUE, y = TRUE)
axis_values <- list(age = c(20, 40, 60, 80), tsize = c(0, 40, 80, 120), pnodes = c(0, 10, 20, 30, 40, 50),
                    progrec = c(0, 500, 1000, 1500, 2000, 2500), horTh = c(0, 1))
prob_at <- c(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
nom <- do.call(nomogram, c(list(fn, fun = plogis, fun.at = prob_at, funlabel = "Probability", lp = TRUE),
                           axis_values))
nom_axes <- lapply(nvars, function(v) list(value = nom[[v]][[v]], points = nom[[v]]$points))
names(nom_axes) <- nvars
nom_out <- list(coef = unname(coef(fn)), axes = nom_axes,
                prob = list(value = nom$Probability$x.real, points = nom$Probability$x),
                lp = list(value = nom[["Linear Predictor"]]$x.real, points = nom[["Linear Predictor"]]$x),
                points_per_unit = attr(nom, "info")$sc)

# ---- bootstrap validation of the 5-variable lrm: rms::validate and, by hand, on the same resamples
B <- 200
SEED <- 20261204
set.seed(SEED)
v <- rms::validate(fn, method = "boot", B = B)
set.seed(SEED)
samples <- replicate(B, sample(n, replace = TRUE))
X5 <- fn$x
stats_of <- function(lp, yy) {
  p <- plogis(lp)
  cal <- coef(glm(yy ~ lp, family = binomial))
  c(dxy = 2 * (somers2(p, yy)["C"] - 0.5), intercept = cal[1], slope = cal[2], brier = mean((p - yy)^2))
}
lp0 <- as.vector(cbind(1, X5) %*% coef(fn))
app <- stats_of(lp0, y)
train <- test <- matrix(NA, B, 4)
for (i in 1:B) {
  s <- samples[, i]
  fb <- glm(y[s] ~ X5[s, ], family = binomial)
  beta <- coef(fb)
  train[i, ] <- stats_of(as.vector(cbind(1, X5[s, ]) %*% beta), y[s])
  test[i, ] <- stats_of(as.vector(cbind(1, X5) %*% beta), y)
}
manual <- list(apparent = unname(app), training = unname(colMeans(train)), test = unname(colMeans(test)),
               corrected = unname(app - colMeans(train - test)))
rms_v <- list(dxy = as.list(v["Dxy", ]), intercept = as.list(v["Intercept", ]), slope = as.list(v["Slope", ]),
              brier = as.list(v["B", ]))

# ---- rms::calibrate of the same lrm (bootstrap optimism-corrected calibration curve), two seeds
cal_of <- function(seed) {
  set.seed(seed)
  cal <- rms::calibrate(fn, method = "boot", B = B)
  err <- abs(cal[, "calibrated.corrected"] - cal[, "predy"])
  list(predy = unname(cal[, "predy"]), apparent = unname(cal[, "calibrated.orig"]),
       corrected = unname(cal[, "calibrated.corrected"]), mean_abs_error = mean(err),
       q90_abs_error = unname(quantile(err, 0.9)))
}
cal_out <- list(seed_a = cal_of(SEED), seed_b = cal_of(SEED + 1))
# Short runs on the first resamples of the same seed, for the quick default tests (B = 20 and B = 10).
set.seed(SEED)
v20 <- rms::validate(fn, method = "boot", B = 20)
B <- 10
cal_out$seed_a_b10 <- cal_of(SEED)
B <- 200

ref <- list(
  meta = list(r_version = R.version.string, rms_version = as.character(packageVersion("rms")),
              glmnet_version = as.character(packageVersion("glmnet")),
              script = "tests/reference/make_logistic_reference.R"),
  columns = vars, rows = which(keep) - 1L, y = y, x = unname(split(x, col(x))),
  glm = list(coef = unname(sm[, 1]), se = unname(sm[, 2]), z = unname(sm[, 3]), p = unname(sm[, 4]),
             lower = unname(ci[, 1]), upper = unname(ci[, 2]), loglik = as.numeric(logLik(full)),
             aic = AIC(full), lrm_coef = unname(coef(lrm_full)),
             lrm_se = unname(sqrt(diag(vcov(lrm_full))))),
  glmnet = list(lambda = path$lambda, beta = unname(split(as.matrix(path$beta), col(path$beta))), a0 = unname(path$a0),
                sd = unname(sd_pop), foldid = foldid, cvm = cvfit$cvm, cvsd = cvfit$cvsd,
                lambda_min = cvfit$lambda.min, lambda_1se = cvfit$lambda.1se),
  step = step_out,
  nomogram = nom_out,
  validate = list(B = B, seed = SEED, columns = nvars, samples0 = unname(t(samples - 1)), rms = rms_v,
                  manual = manual,
                  rms_b20 = list(dxy = as.list(v20["Dxy", ]), intercept = as.list(v20["Intercept", ]),
                                 slope = as.list(v20["Slope", ]), brier = as.list(v20["B", ]))),
  calibrate = cal_out
)
out_file <- file.path("tests", "reference", "logistic_reference.json")
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA), out_file)
cat("wrote", out_file, "\n")
print(v[c("Dxy", "Intercept", "Slope", "B"), ])
print(manual)
str(step_out)
str(nom_out)
str(cal_out$seed_a[4:5]); str(cal_out$seed_b[4:5])
