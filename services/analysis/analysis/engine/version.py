"""Engine version: bump when a computed number can change for the same input."""
ENGINE_VERSION = "1.6.0"  # 1.6.0: combiner 8 (VT1: the ridge and kernel ridge average averaged 50/50 with
#        gradient-boosted trees)
# 1.5.0: combiner 7 (VT1: ridge averaged with a kernel ridge; VT2: also the VE/VCO2 nadir
#        and PetCO2 maximum above VT1 on 60/90/120-s means)
# 1.4.0: combiner 6 (a method that found nothing takes the median of the methods found;
#        fit weighted to the error in mL/min)
# 1.3.0: onset of a ramp without load channel seen after a short unloaded stage; combiner 5;
#        step tests with >= 4-min stages judged on their stage ends
# 1.2.0: phases of a test; VT1/VT2 inside the incremental phase, combiner v1
# 1.1.0: FRIEND 2017 cycle norms for cycle tests
