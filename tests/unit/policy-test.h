/* policy-test.h — what test_policy.c and test_policy_equiv.c share: units and a policy
 * made with the tests' parameters. Included after cmocka.h and policy.h. */
#ifndef EDGESLICE_POLICY_TEST_H
#define EDGESLICE_POLICY_TEST_H

#define GB	 (1024.0 * 1024 * 1024)
#define MB	 (1024.0 * 1024)
#define ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static inline struct policy *mk(enum policy_kind k, uint64_t seed)
{
	struct policy_params pp = {.kind = k, .seed = seed, .reconcile_period_s = 10};
	struct policy *p = NULL;
	assert_int_equal(policy_new(&pp, &p), 0);
	return p;
}

#endif
