#!/bin/sh
# Builds MatchIt 4.5.5 from its upstream source into /tmp/rlib, for make_fixtures.R.
#
# Why: Debian bookworm ships r-cran-matchit 4.5.1, whose nearest-neighbour C++ code
# uses the integer `abs()` on score differences (truncating distances below 1 to 0),
# fixed upstream in 4.5.4 ("Fixed a bug where calipers would not work properly on
# some systems"). Its nearest-neighbour and caliper results are therefore wrong and
# must not be used as a reference.
#
# Source: github.com/kosukeimai/MatchIt at commit 4cf6854 ("Version: 4.5.5", 2023-10-12),
# its dependency chk 0.9.2 from github.com/poissonconsulting/chk at commit e0de8fec.
# Two build-only edits, no change to any algorithm:
#   * DESCRIPTION: rlang (>= 1.1.0) relaxed to (>= 1.0.0) (Debian has rlang 1.0.6);
#   * src/Makevars: LAPACK/BLAS/Fortran dropped from PKG_LIBS (the C++ code calls none
#     of them and the -dev link libraries are not installed).
# Needs: apt-get install r-cran-lifecycle r-cran-rcpp r-cran-rcppprogress r-cran-backports
#        r-cran-matching r-cran-sandwich
set -e
MATCHIT_GIT=${MATCHIT_GIT:-/work/.mirror/kosukeimai+MatchIt/repo}
CHK_GIT=${CHK_GIT:-/work/.mirror/poissonconsulting+chk/repo}
mkdir -p /tmp/rlib /tmp/rsrc
cd /tmp/rsrc
rm -rf chk MatchIt
git -C "$CHK_GIT" archive --prefix=chk/ e0de8fec | tar x
git -C "$MATCHIT_GIT" archive --prefix=MatchIt/ 4cf6854 | tar x
sed -i 's/rlang (>= 1.1.0)/rlang (>= 1.0.0)/' MatchIt/DESCRIPTION
sed -i 's/^PKG_LIBS.*/PKG_LIBS = $(SHLIB_OPENMP_CXXFLAGS)/' MatchIt/src/Makevars
R CMD INSTALL -l /tmp/rlib chk
R_LIBS=/tmp/rlib R CMD INSTALL -l /tmp/rlib MatchIt
