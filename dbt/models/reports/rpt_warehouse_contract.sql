{#- One row: the version of the warehouse contract this build publishes, i.e. the set of public
    models and columns the app reads. The app checks it once at start-up against its own constant
    (app/db.py CONTRACT_VERSION) and says plainly when they differ, instead of probing for models
    one by one. Raise it here and in app/db.py together whenever a public model or column the app
    reads is added, renamed or removed (DECISIONLOG D28). -#}
select cast(7 as integer) as contract_version
